"""Volumes (local driver): named and anonymous, stored under ``<state root>/volumes/<name>/_data``.

- ``driver_opts`` like docker's local driver: ``type=none,o=bind,device=/path`` makes the volume
  the host directory ``device`` (which must exist); ``type=tmpfs[,o=size=..,mode=..]`` mounts a
  tmpfs on ``_data`` when the volume is first used (and unmounts it on removal).
- a new volume is filled from the image's content at the mount path on first use (docker's
  copy-up) unless ``nocopy``; only an empty volume that was never populated is filled.
- rows are written before the directory is made (write-ahead), so a crash leaves a row that
  :func:`remove_volume` can still clean up.

The engine does not know which containers use a volume; callers check that before removing.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine import naming, store
from engine.errors import Conflict, EngineError, NotFound
from engine.paths import ensure_dir, ensure_spread_dir, state_root

log = logging.getLogger(__name__)

store.register_schema("volumes", """
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,
    driver TEXT NOT NULL,
    options TEXT NOT NULL,
    labels TEXT NOT NULL,
    anonymous INTEGER NOT NULL,
    populated INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
)
""")

_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
_KNOWN_OPTS = frozenset({"type", "o", "device"})


class VolumeError(EngineError):
    """A volume operation failed."""


@dataclass(frozen=True, slots=True)
class Volume:
    """A named volume, as recorded."""
    name: str
    driver: str
    mountpoint: Path
    options: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    anonymous: bool = False
    created: float = 0.0


def _data_dir(name: str) -> Path:
    return state_root() / "volumes" / name / "_data"


def _row_to_volume(row: Mapping[str, object]) -> Volume:
    name = str(row["name"])
    options = store.loads(str(row["options"])) or {}
    mountpoint = Path(options["device"]) if _is_bind(options) else _data_dir(name)
    return Volume(name, str(row["driver"]), mountpoint, options,
                  store.loads(str(row["labels"])) or {}, bool(row["anonymous"]),
                  float(str(row["created"])))


def _is_bind(options: Mapping[str, str]) -> bool:
    return "bind" in options.get("o", "").split(",") and bool(options.get("device"))


def _check_options(name: str, driver: str, options: Mapping[str, str]) -> None:
    if driver != "local":
        raise VolumeError(f"driver {driver!r} is not supported (only 'local')",
                          step="create volume", obj=name)
    unknown = set(options) - _KNOWN_OPTS
    if unknown:
        raise VolumeError(f"unknown driver_opts {sorted(unknown)}", step="create volume", obj=name)
    kind = options.get("type")
    if kind not in (None, "none", "tmpfs", "bind"):
        raise VolumeError(f"driver_opts type {kind!r} is not supported (none/bind or tmpfs)",
                          step="create volume", obj=name)
    if _is_bind(options) and not Path(options["device"]).is_dir():
        raise VolumeError(f"bind device {options['device']} does not exist",
                          step="create volume", obj=name)


def create_volume(name: str | None = None, *, driver: str = "local",
                  options: Mapping[str, str] | None = None,
                  labels: Mapping[str, str] | None = None) -> Volume:
    """Create a volume (``name`` None: anonymous, 64-hex name). Creating an existing volume
    with the same driver returns it, like docker."""
    anonymous = name is None
    name = name or naming.new_id()
    if not _NAME_RE.match(name):
        raise VolumeError("invalid volume name", step="create volume", obj=name)
    options = dict(options or {})
    _check_options(name, driver, options)
    with store.transaction() as conn:
        row = conn.execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone()
        if row is not None:
            if store.loads(row["options"]) != options:
                raise Conflict("exists with other driver_opts", step="create volume", obj=name)
            return _row_to_volume(row)
        conn.execute("INSERT INTO volumes (name, driver, options, labels, anonymous, created) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (name, driver, store.dumps(options),
                                                   store.dumps(dict(labels or {})),
                                                   int(anonymous), time.time()))
    ensure_spread_dir(state_root() / "volumes")
    ensure_dir(_data_dir(name), 0o755)
    return inspect_volume(name)


def inspect_volume(name: str) -> Volume:
    """Return the volume ``name``; NotFound if it does not exist."""
    row = store.connect().execute("SELECT * FROM volumes WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFound("no such volume", step="inspect volume", obj=name)
    return _row_to_volume(row)


def list_volumes(labels: Mapping[str, str] | None = None) -> list[Volume]:
    """Every volume whose labels include all of ``labels``, sorted by name."""
    rows = store.connect().execute("SELECT * FROM volumes ORDER BY name").fetchall()
    vols = [_row_to_volume(r) for r in rows]
    want = dict(labels or {})
    return [v for v in vols if all(v.labels.get(k) == val for k, val in want.items())]


def mount_path(name: str) -> Path:
    """Prepare the volume for use by a container and return the host directory to bind-mount
    (mounts the tmpfs of a ``type=tmpfs`` volume the first time)."""
    vol = inspect_volume(name)
    if vol.options.get("type") == "tmpfs" and not _is_mounted(vol.mountpoint):
        _mount_tmpfs(vol.mountpoint, vol.options.get("o", ""))
    return vol.mountpoint


def populate_volume(name: str, layers: Iterable[Path], path: str) -> bool:
    """Copy the image content at ``path`` (from layer dirs, lowest first) into a fresh volume.

    Returns True when it copied. Only a never-populated, empty volume is filled (docker's rule),
    so data written by containers is never overwritten.
    """
    vol = inspect_volume(name)
    conn = store.connect()
    row = conn.execute("SELECT populated FROM volumes WHERE name = ?", (name,)).fetchone()
    target = mount_path(name)
    if row["populated"] or any(target.iterdir()):
        return False
    rel = path.strip("/")
    copied = False
    for layer in layers:
        src = Path(layer) / rel if rel else Path(layer)
        _apply_whiteouts(Path(layer), rel, target)
        if src.is_dir() and not src.is_symlink():
            _copy_tree(src, target)
            copied = True
    with store.transaction() as tx:
        tx.execute("UPDATE volumes SET populated = 1 WHERE name = ?", (vol.name,))
    return copied


def _apply_whiteouts(layer: Path, rel: str, target: Path) -> None:
    """An upper layer's ``.wh.<name>`` deletes ``<name>`` copied from lower layers."""
    src = layer / rel if rel else layer
    if not src.is_dir():
        return
    for wh in src.rglob(".wh.*"):
        victim = target / wh.parent.relative_to(src) / wh.name[len(".wh."):]
        if wh.name == ".wh..wh..opq":
            _empty_dir(target / wh.parent.relative_to(src))
        elif victim.is_dir() and not victim.is_symlink():
            shutil.rmtree(victim)
        elif victim.exists() or victim.is_symlink():
            victim.unlink()


def _empty_dir(path: Path) -> None:
    if not path.is_dir():
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _copy_tree(src: Path, dest: Path) -> None:
    """Merge ``src`` into ``dest`` keeping modes, owners and symlinks (no whiteout files)."""
    shutil.copystat(src, dest)
    _copy_owner(src, dest)
    for child in src.iterdir():
        if child.name.startswith(".wh."):
            continue
        out = dest / child.name
        if child.is_symlink():
            if out.exists() or out.is_symlink():
                out.unlink()
            os.symlink(os.readlink(child), out)
            os.lchown(out, child.lstat().st_uid, child.lstat().st_gid)
        elif child.is_dir():
            out.mkdir(exist_ok=True)
            _copy_tree(child, out)
        else:
            shutil.copy2(child, out)
            _copy_owner(child, out)


def _copy_owner(src: Path, dest: Path) -> None:
    st = src.lstat()
    if os.geteuid() == 0:
        os.lchown(dest, st.st_uid, st.st_gid)


def remove_volume(name: str, *, missing_ok: bool = False) -> None:
    """Remove the volume and its data (a bind volume's host directory is left alone)."""
    try:
        vol = inspect_volume(name)
    except NotFound:
        if missing_ok:
            return
        raise
    base = state_root() / "volumes" / name
    if _is_mounted(base / "_data"):
        _umount(base / "_data")
    if base.exists():
        shutil.rmtree(base)
    with store.transaction() as conn:
        conn.execute("DELETE FROM volumes WHERE name = ?", (vol.name,))


def prune_volumes(in_use: Iterable[str], *, all_volumes: bool = False) -> list[str]:
    """Remove unused volumes (anonymous only unless ``all_volumes``, like docker 23+)."""
    busy = set(in_use)
    removed = []
    for vol in list_volumes():
        if vol.name in busy or not (vol.anonymous or all_volumes):
            continue
        remove_volume(vol.name, missing_ok=True)
        removed.append(vol.name)
    return removed


# -- tmpfs volumes: the only privileged calls here ------------------------------------------


def _is_mounted(path: Path) -> bool:
    text = str(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == text for line in f)
    except OSError:
        return False


def _mount_tmpfs(path: Path, opts: str) -> None:
    from engine.runtime.syscalls import LinuxSyscalls

    ensure_dir(path, 0o755)
    try:
        LinuxSyscalls().mount("tmpfs", str(path), "tmpfs", 0, opts)
    except OSError as exc:
        raise VolumeError(f"mount tmpfs: {exc.strerror}", step="mount volume",
                          obj=str(path)) from None


def _umount(path: Path) -> None:
    from engine.runtime.syscalls import LinuxSyscalls

    try:
        LinuxSyscalls().umount2(str(path), 2)  # MNT_DETACH: a busy tmpfs still goes away
    except OSError as exc:
        raise VolumeError(f"umount: {exc.strerror}", step="remove volume", obj=str(path)) from None
