"""Where the engine keeps its state on disk.

One state root (default ``/var/lib/pycompose``, rootless ``$XDG_DATA_HOME/pycompose``;
``PYCOMPOSE_ROOT`` overrides it, which tests use to get a private
temporary root). Layout under the root::

    state.db            SQLite (WAL): containers, networks, IP leases, volumes, images, tags
    images/blobs/sha256/<hex>       content store (OCI image-layout semantics)
    images/layers/<hex>/            each layer unpacked once; an OverlayFS lower dir
    containers/<id>/bundle/         OCI bundle: config.json + rootfs (overlay mount point)
    containers/<id>/upper, work     overlay upper and work dirs
    containers/<id>/log.jsonl       timestamped stdout/stderr lines
    containers/<id>/shim.sock ...   runtime bookkeeping
    volumes/<name>/_data            named volumes (local driver)
    run/                            sockets and pid files (supervisors, DNS)
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ROOT = "/var/lib/pycompose"
ROOT_ENV = "PYCOMPOSE_ROOT"


_DEFAULT = Path(DEFAULT_ROOT)
_from_env: dict[str, Path] = {}  # PYCOMPOSE_ROOT value -> its Path (asked for on every store
                                 # access: a Path a time showed in profiles)


def state_root() -> Path:
    """Return the state root directory (not created)."""
    env = os.environ.get(ROOT_ENV)
    if env:
        root = _from_env.get(env)
        if root is None:
            root = _from_env[env] = Path(env)
        return root
    from engine.rootless import detect

    return detect.user_state_root() if detect.rootless() else _DEFAULT


def lock_dir() -> Path:
    """Where locks over host-wide kernel state go: ``/run`` as root; rootless, the state root's
    ``run/`` (its network namespace is private to the state root, and ``/run`` is not ours)."""
    from engine.rootless import detect

    if not detect.rootless():
        return Path("/run")
    return ensure_dir(state_root() / "run", 0o700)


def ensure_dir(path: Path, mode: int = 0o711) -> Path:
    """Create ``path`` (and parents) if missing and return it."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path


# ext4's FS_IOC_GETFLAGS/SETFLAGS (_IOR/_IOW('f', 1/2, long); the kernel reads an int) and
# the "top of directory hierarchies" flag (chattr +T)
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_TOPDIR_FL = 0x00020000
_spread: set[Path] = set()  # directories this process has marked


def ensure_spread_dir(path: Path, mode: int = 0o711) -> Path:
    """Create ``path`` if missing: a directory of unrelated hierarchies (one subdirectory per
    container, project or volume), marked for the filesystem as such and returned.

    On ext4 the mark is ``chattr +T``: the Orlov allocator then puts each new subdirectory in
    a block group of its own instead of its siblings' group. That matters where ext4 runs
    without a journal (as on some VMs): every inode allocation there first steps over each
    inode of the group deleted in the last minutes, one buffer lookup apiece. A ``down`` of
    50 containers deletes ~1,100 inodes in one group and the next ``up`` stepped over them
    ~1,100 times: a quarter of all its CPU time. Elsewhere the flag is harmless, and where it
    cannot be set (another filesystem, no permission) nothing changes.
    """
    if path in _spread:
        return path
    ensure_dir(path, mode)
    _mark_topdir(path)
    _spread.add(path)
    return path


def _mark_topdir(path: Path) -> None:
    import fcntl
    import struct

    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = struct.unpack("=i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, bytes(4)))[0]
        if not flags & _FS_TOPDIR_FL:
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("=i", flags | _FS_TOPDIR_FL))
    except OSError:
        pass  # not ext4 (ENOTTY, EOPNOTSUPP) or not ours to change (EPERM): a hint only
    finally:
        os.close(fd)


def lock_path(default: Path) -> Path:
    """``default`` (a lock under ``/run``) as root; rootless, the same name under lock_dir()."""
    from engine.rootless import detect

    return lock_dir() / default.name if detect.rootless() else default
