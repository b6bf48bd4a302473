"""Read the merged view of a stack of unpacked layers without mounting it.

Layers are lowest first; overlay whiteouts (char 0:0) hide lower entries and opaque directories
hide everything below them.
"""
from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from engine.images.layers import is_opaque, is_whiteout


def _parts(rel: str) -> list[str]:
    return [p for p in rel.split("/") if p not in ("", ".")]


def lookup(layer_dirs: Sequence[Path], rel: str) -> Path | None:
    """The topmost real path for ``rel`` in the stack (no symlink resolution), or None."""
    parts = _parts(rel)
    for layer in reversed(layer_dirs):
        hidden = False
        cur = layer
        for idx, part in enumerate(parts):
            cur = cur / part
            try:
                st = os.lstat(cur)
            except (FileNotFoundError, NotADirectoryError):
                break
            if is_whiteout(st):
                return None
            if idx < len(parts) - 1 and is_opaque(cur):
                hidden = True  # lower layers can't contribute below this dir
        else:
            return cur
        if hidden:
            return None
    return None


def read_text(layer_dirs: Sequence[Path], rel: str) -> str | None:
    path = lookup(layer_dirs, rel)
    if path is None or not path.is_file():
        return None
    return path.read_text(errors="replace")


def materialize(layer_dirs: Sequence[Path], rel: str, dest: Path) -> bool:
    """Copy the merged content at ``rel`` to ``dest`` (file or tree); False when absent."""
    top = lookup(layer_dirs, rel)
    if top is None:
        return False
    if not top.is_dir() or top.is_symlink():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(top, dest, follow_symlinks=False)
        return True
    dest.mkdir(parents=True, exist_ok=True)
    start = 0
    for idx, layer in enumerate(layer_dirs):
        cand = layer.joinpath(*_parts(rel))
        if cand.is_dir() and is_opaque(cand):
            start = idx
    for layer in layer_dirs[start:]:
        src = layer.joinpath(*_parts(rel))
        if src.is_dir() and not src.is_symlink():
            _overlay_copy(src, dest)
    return True


def _overlay_copy(src: Path, dest: Path) -> None:
    if is_opaque(src):
        for child in dest.iterdir():
            _remove(child)
    for child in sorted(src.iterdir()):
        target = dest / child.name
        st = os.lstat(child)
        if is_whiteout(st):
            _remove(target)
        elif child.is_dir() and not child.is_symlink():
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                _remove(target)
            target.mkdir(exist_ok=True)
            shutil.copystat(child, target)
            _chown(child, target)
            _overlay_copy(child, target)
        else:
            _remove(target)
            shutil.copy2(child, target, follow_symlinks=False)
            _chown(child, target)


def _chown(src: Path, dest: Path) -> None:
    st = os.lstat(src)
    if os.geteuid() == 0:
        os.lchown(dest, st.st_uid, st.st_gid)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def resolve_user(layer_dirs: Sequence[Path], spec: str) -> tuple[int, int]:
    """Turn ``user[:group]`` (names or numbers) into ids using the image's passwd/group."""
    user, _, group = spec.partition(":")
    uid, gid = _lookup_id(layer_dirs, "etc/passwd", user, want_gid=True)
    if group:
        gid = _lookup_id(layer_dirs, "etc/group", group, want_gid=False)[0]
    elif not user.isdigit():
        pass
    elif gid < 0:
        gid = uid
    return uid, (gid if gid >= 0 else uid)


def _lookup_id(layer_dirs: Sequence[Path], rel: str, name: str,
               want_gid: bool) -> tuple[int, int]:
    if name.isdigit():
        uid = int(name)
        gid = -1
        for fields in _entries(layer_dirs, rel):
            if want_gid and len(fields) > 3 and fields[2] == name:
                gid = int(fields[3])
        return uid, gid
    for fields in _entries(layer_dirs, rel):
        if fields[0] == name and len(fields) > 2:
            return int(fields[2]), int(fields[3]) if want_gid and len(fields) > 3 else -1
    raise LookupError(f"unknown {'user' if want_gid else 'group'} {name!r} "
                      f"(not in /{rel} of the image)")


def _entries(layer_dirs: Sequence[Path], rel: str) -> list[list[str]]:
    text = read_text(layer_dirs, rel) or ""
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]
