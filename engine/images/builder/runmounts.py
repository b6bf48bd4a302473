"""``RUN --mount``: bind (context, stage, image or named context), cache, tmpfs and secret
mounts of one RUN step, as engine mounts; nothing a mount shows ends up in the layer."""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from engine.containers.spec import Mount, MountType
from engine.images import blobstore
from engine.images.builder import rootview
from engine.images.builder.copier import CopyError, hash_sources, resolve_sources
from engine.images.builder.errors import BuildError
from engine.images.builder.parser import Instruction
from engine.paths import state_root

if TYPE_CHECKING:
    from engine.images.builder.build import Builder
    from engine.images.builder.stage import StageState

TYPES = ("bind", "cache", "tmpfs", "secret")
_BOOL_KEYS = {"ro": "readonly", "readonly": "readonly", "rw": "rw", "readwrite": "rw",
              "required": "required"}
_KEYS = {"type", "target", "dst", "destination", "source", "src", "from", "id", "sharing",
         "mode", "uid", "gid", "size", "env"} | set(_BOOL_KEYS)


@dataclass(frozen=True, slots=True)
class RunMount:
    """One parsed ``--mount`` of a RUN instruction."""

    type: str
    target: str
    source: str = ""
    from_ref: str = ""
    id: str = ""
    sharing: str = "shared"
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    size: int | None = None
    rw: bool = False
    required: bool = False
    env: str = ""


@dataclass(slots=True)
class PreparedMounts:
    """Engine mounts for the step, environment the step gets, and the key part for the cache."""

    mounts: list[Mount] = field(default_factory=list)
    env: list[str] = field(default_factory=list)


def parse_mount(text: str, ins: Instruction, file: str) -> RunMount:
    """Parse ``type=cache,target=/x,...``; unknown keys and types are errors naming the line."""
    values: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = item.partition("=")
        key = key.lower()
        if key not in _KEYS:
            raise BuildError(f"RUN --mount: unknown option {key!r}", line=ins.line, file=file)
        if not sep and key in _BOOL_KEYS:
            value = "true"
        values[_BOOL_KEYS.get(key, key)] = value
    kind = values.get("type", "bind")
    if kind == "ssh":
        raise BuildError("RUN --mount=type=ssh is not supported by the pycompose builder (no "
                         "SSH agent forwarding)", line=ins.line, file=file)
    if kind not in TYPES:
        raise BuildError(f"RUN --mount: unknown type {kind!r} (bind, cache, tmpfs, secret)",
                         line=ins.line, file=file)
    target = values.get("target") or values.get("dst") or values.get("destination") or ""
    mid = values.get("id", "")
    if kind == "secret":
        mid = mid or Path(target).name
        if not mid:
            raise BuildError("RUN --mount=type=secret needs id= (or a target)", line=ins.line,
                             file=file)
        target = target or ("" if values.get("env") else f"/run/secrets/{mid}")
    elif not target:
        raise BuildError(f"RUN --mount=type={kind} needs target=", line=ins.line, file=file)
    if target and not target.startswith("/"):
        raise BuildError(f"RUN --mount: target {target!r} must be absolute", line=ins.line,
                         file=file)
    sharing = values.get("sharing", "shared")
    if sharing not in ("shared", "private", "locked"):
        raise BuildError(f"RUN --mount: sharing={sharing} (shared, private or locked)",
                         line=ins.line, file=file)
    try:
        mode = int(values["mode"], 8) if "mode" in values else None
        size = _size(values["size"]) if "size" in values else None
        uid, gid = int(values.get("uid", 0)), int(values.get("gid", 0))
    except ValueError as exc:
        raise BuildError(f"RUN --mount: {exc}", line=ins.line, file=file) from None
    return RunMount(kind, target, values.get("source") or values.get("src") or "",
                    values.get("from", ""), mid or target, sharing, mode, uid, gid, size,
                    _truthy(values.get("rw")) and not _truthy(values.get("readonly")),
                    _truthy(values.get("required")), values.get("env", ""))


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "")


def _size(text: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    t = text.strip().lower().removesuffix("b")
    return int(t[:-1]) * units[t[-1]] if t and t[-1] in units else int(t)


def cache_identity(builder: Builder, state: StageState, mounts: list[RunMount],
                   ins: Instruction) -> str:
    """What of the mounts decides the step's result: bind sources' content; for the others
    only their type and target (a cache or a secret is not part of the key, like BuildKit)."""
    parts = []
    for m in mounts:
        if m.type == "bind" and not m.from_ref:
            parts.append(f"bind:{m.target}:{_context_hash(builder, m, ins)}")
        elif m.type == "bind":
            parts.append(f"bind:{m.target}:{m.from_ref}:{m.source}:"
                         f"{builder.source_identity(m.from_ref, ins)}")
        else:
            parts.append(f"{m.type}:{m.target}:{m.env}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _context_hash(builder: Builder, m: RunMount, ins: Instruction) -> str:
    try:
        sources = resolve_sources(builder.context, [m.source or "."], builder.matcher)
    except CopyError as exc:
        raise BuildError(f"RUN --mount=type=bind: {exc}", line=ins.line,
                         file=builder.file) from None
    return hash_sources(sources, builder.matcher)


@contextmanager
def prepare(builder: Builder, mounts: list[RunMount], ins: Instruction) -> Iterator[PreparedMounts]:
    """Make the host side of every mount; undo all of it (but caches) afterwards."""
    out = PreparedMounts()
    with ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix=".mounts-", dir=blobstore.tmp_dir()))
        stack.callback(shutil.rmtree, scratch, True)
        for idx, m in enumerate(mounts):
            where = scratch / str(idx)
            if m.type == "bind":
                out.mounts.append(_bind(builder, m, ins, where))
            elif m.type == "cache":
                out.mounts.append(_cache(m, stack))
            elif m.type == "tmpfs":
                out.mounts.append(Mount(MountType.TMPFS, m.target, tmpfs_size=m.size))
            else:
                _secret(builder, m, ins, where, out)
        yield out


def _bind(builder: Builder, m: RunMount, ins: Instruction, where: Path) -> Mount:
    if m.from_ref:
        dirs = builder.layers_for(m.from_ref, ins)
        if dirs is None:  # a named context that is a directory
            src = _inside(builder.named_context_dir(m.from_ref), m.source, builder, ins)
        else:
            src = where
            if not rootview.materialize(dirs, m.source.strip("/"), src):
                raise BuildError(f"RUN --mount=type=bind: {m.source!r} not found in "
                                 f"{m.from_ref!r}", line=ins.line, file=builder.file)
    else:
        src = _inside(builder.context, m.source, builder, ins)
    if m.rw and src != where:  # writes to an rw bind are discarded: give it a copy
        _copy(src, where)
        src = where
    return Mount(MountType.BIND, m.target, str(src), read_only=not m.rw)


def _inside(root: Path, rel: str, builder: Builder, ins: Instruction) -> Path:
    path = (root / rel.strip("/")).resolve()
    if path != root.resolve() and root.resolve() not in path.parents:
        raise BuildError(f"RUN --mount=type=bind: source {rel!r} is outside the build context",
                         line=ins.line, file=builder.file)
    if not path.exists():
        raise BuildError(f"RUN --mount=type=bind: source {rel!r} not found", line=ins.line,
                         file=builder.file)
    return path


def _copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def cache_dir(mount_id: str) -> Path:
    """Where a cache mount's content lives (kept across builds, per state root)."""
    digest = hashlib.sha256(mount_id.encode()).hexdigest()[:32]
    return state_root() / "images" / "buildcache" / digest


def _cache(m: RunMount, stack: ExitStack) -> Mount:
    path = cache_dir(m.id)
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, m.mode if m.mode is not None else 0o755)
        os.chown(path, m.uid, m.gid)
    if m.sharing != "shared":  # locked (and private, which we serialise the same way)
        fd = os.open(str(path.parent / (path.name + ".lock")), os.O_CREAT | os.O_RDWR, 0o600)
        stack.callback(os.close, fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
    return Mount(MountType.BIND, m.target, str(path))


def _secret(builder: Builder, m: RunMount, ins: Instruction, where: Path,
            out: PreparedMounts) -> None:
    value = builder.secret_value(m.id)
    if value is None:
        if m.required:
            raise BuildError(f"secret {m.id!r} is required but was not given to the build",
                             line=ins.line, file=builder.file)
        return
    if m.env:
        out.env.append(f"{m.env}={value.decode(errors='replace')}")
    if m.target:
        where.mkdir(mode=0o700)
        path = where / "secret"
        fd = os.open(str(path), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(value)
        os.chown(path, m.uid, m.gid)
        os.chmod(path, m.mode if m.mode is not None else 0o400)
        out.mounts.append(Mount(MountType.BIND, m.target, str(path), read_only=True))
