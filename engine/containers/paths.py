"""Where one container's files live under the state root (see engine.paths)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.naming import CGROUP_PARENT
from engine.paths import state_root
from engine.unixaddr import unix_address


def containers_root() -> Path:
    """``<state root>/containers``: one directory per container."""
    return state_root() / "containers"


def container_dir(cid: str) -> Path:
    """``<state root>/containers/<id>``."""
    return containers_root() / cid


def bundle_dir(cid: str) -> Path:
    """The OCI bundle: config.json + rootfs."""
    return container_dir(cid) / "bundle"


def rootfs_dir(cid: str) -> Path:
    """The rootfs mount point inside the bundle."""
    return bundle_dir(cid) / "rootfs"


def upper_dir(cid: str) -> Path:
    """The container's OverlayFS upper dir (its writable layer)."""
    return container_dir(cid) / "upper"


def work_dir(cid: str) -> Path:
    """OverlayFS work dir (same filesystem as the upper dir)."""
    return container_dir(cid) / "work"


def log_file(cid: str) -> Path:
    """Timestamped stdout/stderr lines."""
    return container_dir(cid) / "log.jsonl"


def shim_socket(cid: str) -> Path:
    """The shim's control socket (exec requests)."""
    return container_dir(cid) / "shim.sock"


def cgroup_path(cid: str) -> str:
    """The container's cgroup, relative to each hierarchy root."""
    return f"{CGROUP_PARENT}/{cid}"


@contextmanager
def short_socket_path(cid: str) -> Iterator[str]:
    """An address for ``shim.sock`` under the 108-byte AF_UNIX limit (see engine.unixaddr)."""
    with unix_address(container_dir(cid) / "shim.sock") as address:
        yield address
