"""COPY and ADD: resolve sources in the build context, hash them for the cache, copy them."""
from __future__ import annotations

import glob
import hashlib
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.images import layers
from engine.images.builder import filehash, rootview
from engine.images.builder.dockerignore import Matcher

_GLOB_CHARS = set("*?[")


class CopyError(ValueError):
    """A COPY/ADD source is missing or invalid (turned into a BuildError with the line)."""


@dataclass(frozen=True, slots=True)
class Source:
    """One source file or directory of a copy."""
    rel: str      # path relative to the source root ("" for the root itself)
    path: Path    # absolute path


@dataclass(frozen=True, slots=True)
class CopyOptions:
    """The options of a ``COPY``/``ADD``."""
    chown: tuple[int, int] | None = None
    chmod: int | None = None
    extract_archives: bool = False


def _clean(rel: str) -> str:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise CopyError(f"source {rel!r} points outside the build context")
    return "/".join(parts)


def resolve_sources(root: Path, patterns: Sequence[str], matcher: Matcher | None) -> list[Source]:
    """Find the files named by ``patterns`` under ``root`` (globs allowed)."""
    out: list[Source] = []
    for pattern in patterns:
        if pattern.startswith(("http://", "https://", "git@")):
            raise CopyError(f"remote source {pattern!r} is not supported (no network)")
        rel = _clean(pattern)
        if set(rel) & _GLOB_CHARS:
            hits = sorted(glob.glob(str(root / rel) if rel else str(root)))
            found = [Source(str(Path(h).relative_to(root)), Path(h)) for h in hits]
            found = [s for s in found if not (matcher and matcher.excluded(s.rel))]
        else:
            path = root / rel if rel else root
            present = path.exists() or path.is_symlink()
            found = [Source(rel, path)] if present and not _hidden(matcher, rel, path) else []
        if not found:
            raise CopyError(f"{pattern!r} not found in the build context "
                            "(or excluded by .dockerignore)")
        out.extend(found)
    return out


def _hidden(matcher: Matcher | None, rel: str, path: Path) -> bool:
    if matcher is None or not rel or not matcher.excluded(rel):
        return False
    # an excluded directory can still hold '!' exceptions
    return not (path.is_dir() and matcher.may_contain_included(rel))


def walk_source(src: Source, matcher: Matcher | None) -> Iterator[tuple[str, Path]]:
    """(path relative to the source, absolute path) of everything a source brings."""
    if not src.path.is_dir() or src.path.is_symlink():
        yield "", src.path
        return
    for dirpath, dirnames, filenames in os.walk(src.path):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = base / name
            ctx_rel = _ctx_rel(src, path)
            if matcher and matcher.excluded(ctx_rel):
                if name in dirnames and not matcher.may_contain_included(ctx_rel):
                    dirnames.remove(name)
                continue
            yield str(path.relative_to(src.path)), path


def _ctx_rel(src: Source, path: Path) -> str:
    inner = str(path.relative_to(src.path))
    return f"{src.rel}/{inner}" if src.rel else inner


def hash_sources(sources: Sequence[Source], matcher: Matcher | None) -> str:
    """A digest of names, modes, ownership-independent metadata and contents."""
    h = hashlib.sha256()
    for src in sources:
        h.update(f"\0src:{src.rel}".encode())
        for rel, path in walk_source(src, matcher):
            st = os.lstat(path)
            h.update(f"\0{rel}:{stat.S_IFMT(st.st_mode)}:{stat.S_IMODE(st.st_mode)}".encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode())
            elif stat.S_ISREG(st.st_mode):
                h.update(filehash.file_digest(path, st).encode())
    return "sha256:" + h.hexdigest()


def copy_sources(sources: Sequence[Source], dest: str, layer_root: Path,
                 lower: Sequence[Path], matcher: Matcher | None, opts: CopyOptions) -> None:
    """Copy ``sources`` to image path ``dest`` (absolute) inside the new layer ``layer_root``."""
    dest_rel = _clean(dest)
    dest_is_dir = dest.endswith("/") or len(sources) > 1 or _is_dir_in(lower, dest_rel)
    for src in sources:
        if src.path.is_dir() and not src.path.is_symlink():
            target_dir = _ensure_dir(layer_root, dest_rel, lower, opts)
            _copy_tree(src, target_dir, matcher, opts)
        elif opts.extract_archives and _is_archive(src.path):
            target_dir = _ensure_dir(layer_root, dest_rel, lower, opts)
            with tarfile.open(src.path, "r:*") as tf:
                layers.extract_members(tf, target_dir, obj=str(src.path))
        else:
            rel = f"{dest_rel}/{src.path.name}" if dest_is_dir else dest_rel
            parent = _ensure_dir(layer_root, str(Path(rel).parent), lower, None)
            _copy_one(src.path, parent / Path(rel).name, opts)


def _is_dir_in(lower: Sequence[Path], rel: str) -> bool:
    found = rootview.lookup(lower, rel) if rel else None
    return rel == "" or (found is not None and found.is_dir() and not found.is_symlink())


def _is_archive(path: Path) -> bool:
    try:
        return path.is_file() and tarfile.is_tarfile(path)
    except OSError:
        return False


def _ensure_dir(layer_root: Path, rel: str, lower: Sequence[Path],
                opts: CopyOptions | None) -> Path:
    """Create ``rel`` in the layer; parents keep the mode and owner they have below."""
    cur = layer_root
    sofar = ""
    for part in [p for p in rel.split("/") if p not in ("", ".")]:
        sofar = f"{sofar}/{part}" if sofar else part
        cur = cur / part
        if cur.is_dir():
            continue
        cur.mkdir()
        below = rootview.lookup(lower, sofar)
        if below is not None and below.is_dir():
            st = os.stat(below)
            os.chmod(cur, stat.S_IMODE(st.st_mode))
            _lchown(cur, st.st_uid, st.st_gid)
        else:
            os.chmod(cur, 0o755)
            if opts and opts.chown:
                _lchown(cur, *opts.chown)
    return cur


def _copy_tree(src: Source, target: Path, matcher: Matcher | None, opts: CopyOptions) -> None:
    for rel, path in walk_source(src, matcher):
        dest = target / rel
        if path.is_dir() and not path.is_symlink():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copystat(path, dest)
            _apply(dest, opts, path)
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            _copy_one(path, dest, opts)


def _copy_one(path: Path, dest: Path, opts: CopyOptions) -> None:
    if dest.is_dir() and not dest.is_symlink():
        shutil.rmtree(dest)
    elif dest.exists() or dest.is_symlink():
        dest.unlink()
    shutil.copy2(path, dest, follow_symlinks=False)
    _apply(dest, opts, path)


def _apply(dest: Path, opts: CopyOptions, src: Path) -> None:
    # Without --chown the copy belongs to root, like docker (not to the context's owner).
    _lchown(dest, *(opts.chown or (0, 0)))
    if opts.chmod is not None and not dest.is_symlink():
        os.chmod(dest, opts.chmod)


def _lchown(path: Path, uid: int, gid: int) -> None:
    if os.geteuid() == 0:
        os.lchown(path, uid, gid)
