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


def lock_path(default: Path) -> Path:
    """``default`` (a lock under ``/run``) as root; rootless, the same name under lock_dir()."""
    from engine.rootless import detect

    return lock_dir() / default.name if detect.rootless() else default
