"""``RUN --mount=...``: cache, tmpfs, bind (from the context) and secret mounts of one step.

None of them ends up in the layer: cache directories live under the state root
(``images/buildcache/<id>``) and survive rebuilds, secrets are written to a private temporary
file for the step only, and the mount points the step needed are removed from its layer.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.containers.spec import Mount, MountType
from engine.images.builder.errors import BuildError

MOUNT_SEPARATOR = "\n"  # the parser joins repeated --mount flags with it
_TYPES = ("cache", "tmpfs", "bind", "secret")


@dataclass(frozen=True, slots=True)
class RunMount:
    """One ``--mount`` of a RUN."""

    type: str
    target: str
    source: str = ""
    id: str = ""
    readonly: bool = False
    required: bool = False


def parse_mounts(flag: str | None, line: int, file: str) -> list[RunMount]:
    """The ``--mount`` values of one RUN (``type=cache,target=/x,...``)."""
    return [_parse_one(text, line, file) for text in (flag or "").split(MOUNT_SEPARATOR)
            if text]


def _parse_one(text: str, line: int, file: str) -> RunMount:
    opts: dict[str, str] = {}
    for item in text.split(","):
        key, eq, value = item.partition("=")
        opts[key.strip()] = value.strip() if eq else "true"
    kind = opts.pop("type", "bind")
    if kind not in _TYPES:
        raise BuildError(f"RUN --mount type={kind} is not supported (cache, tmpfs, bind, "
                         "secret)", line=line, file=file)
    target = opts.pop("target", opts.pop("dst", opts.pop("destination", "")))
    ident = opts.pop("id", "")
    if kind == "secret" and not target:
        target = f"/run/secrets/{ident}"
    if not target.startswith("/"):
        raise BuildError(f"RUN --mount type={kind} needs an absolute target", line=line,
                         file=file)
    readonly = opts.pop("readonly", opts.pop("ro", "false")) in ("true", "1")
    writable = opts.pop("rw", opts.pop("readwrite", "false")) in ("true", "1")
    if kind == "bind":  # BuildKit: binds are read-only unless rw
        readonly = not writable
    required = opts.pop("required", "false") in ("true", "1")
    source = opts.pop("source", opts.pop("src", ""))
    if "from" in opts:
        raise BuildError("RUN --mount from= (another stage or image) is not supported",
                         line=line, file=file)
    for ignored in ("sharing", "mode", "uid", "gid", "size", "env"):
        opts.pop(ignored, None)
    if opts:
        raise BuildError(f"RUN --mount option(s) {', '.join(sorted(opts))} not supported",
                         line=line, file=file)
    return RunMount(kind, target, source, ident or (target if kind == "cache" else ""),
                    readonly, required)


@contextmanager
def engine_mounts(mounts: list[RunMount], context: Path, secrets: Mapping[str, bytes],
                  cache_root: Path, tmp_root: Path, line: int, file: str
                  ) -> Iterator[list[Mount]]:
    """The engine mounts for ``mounts`` while the step runs; temporary files removed after."""
    scratch = Path(tempfile.mkdtemp(prefix=".runmount-", dir=tmp_root))
    try:
        out = []
        for index, m in enumerate(mounts):
            made = _engine_mount(m, index, context, secrets, cache_root, scratch, line, file)
            if made is not None:
                out.append(made)
        yield out
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _engine_mount(m: RunMount, index: int, context: Path, secrets: Mapping[str, bytes],
                  cache_root: Path, scratch: Path, line: int, file: str) -> Mount | None:
    if m.type == "tmpfs":
        return Mount(MountType.TMPFS, m.target)
    if m.type == "cache":
        key = hashlib.sha256(m.id.encode()).hexdigest()[:32]
        path = cache_root / key
        path.mkdir(parents=True, exist_ok=True, mode=0o755)
        return Mount(MountType.BIND, m.target, str(path), read_only=m.readonly)
    if m.type == "secret":
        if m.id not in secrets:
            if m.required:
                raise BuildError(f"secret {m.id!r} is required but was not given "
                                 "(build.secrets)", line=line, file=file)
            return None
        path = scratch / f"secret-{index}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets[m.id])
        return Mount(MountType.BIND, m.target, str(path), read_only=True)
    return _bind_mount(m, index, context, scratch, line, file)


def _bind_mount(m: RunMount, index: int, context: Path, scratch: Path, line: int,
                file: str) -> Mount:
    source = (context / m.source.lstrip("/")).resolve()
    if context.resolve() not in (source, *source.parents) or not source.exists():
        raise BuildError(f"RUN --mount type=bind source {m.source!r} is not in the build "
                         "context", line=line, file=file)
    if m.readonly:
        return Mount(MountType.BIND, m.target, str(source), read_only=True)
    copy = scratch / f"bind-{index}"  # rw: writes go to a throw-away copy, as in BuildKit
    if source.is_dir():
        shutil.copytree(source, copy, symlinks=True)
    else:
        shutil.copy2(source, copy)
    return Mount(MountType.BIND, m.target, str(copy))


def drop_mount_points(upper: Path, lower_has: object, targets: list[str]) -> None:
    """Remove from the step's layer the empty files and directories that only exist as mount
    points (``lower_has(rel)`` says whether the image below already had the path)."""
    assert callable(lower_has)
    for target in targets:
        rel = target.strip("/")
        while rel:
            path = upper / rel
            if lower_has(rel) or not _empty(path):
                break
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
            rel = rel.rpartition("/")[0]


def _empty(path: Path) -> bool:
    try:
        if path.is_symlink():
            return False
        if path.is_dir():
            return not any(path.iterdir())
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False
