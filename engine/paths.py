"""Where the engine keeps its state on disk.

One state root (default ``/var/lib/pycompose``; ``PYCOMPOSE_ROOT`` overrides it, which tests use
to get a private temporary root). Layout under the root::

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


def state_root() -> Path:
    """Return the state root directory (not created)."""
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


def ensure_dir(path: Path, mode: int = 0o711) -> Path:
    """Create ``path`` (and parents) if missing and return it."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path
