"""``export``: a container's filesystem (image layers + its writable layer, without volumes)
as a tar stream, like ``docker export``; works on running and stopped containers."""
from __future__ import annotations

import contextlib
import os
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from engine.containers import paths, rootfs
from engine.containers.lifecycle import inspect
from engine.containers.record import spec_from_json


@contextlib.contextmanager
def filesystem_view(ref: str) -> Iterator[Path]:
    """A directory showing the container's root filesystem as it is now: its mounted rootfs
    while it runs, else a read-only overlay of its image layers and writable layer."""
    info = inspect(ref)
    spec = spec_from_json(info.spec)
    mounted = paths.rootfs_dir(info.id)
    if spec.rootfs is not None:
        yield Path(spec.rootfs)
        return
    if rootfs.is_mounted(mounted):
        yield mounted
        return
    view = paths.container_dir(info.id) / f"view-{uuid.uuid4().hex[:8]}"
    rootfs.mount_overlay_readonly([*spec.layers, paths.upper_dir(info.id)], view)
    try:
        yield view
    finally:
        rootfs.unmount(view)
        view.rmdir()


def export(ref: str, out: IO[bytes]) -> None:
    """Write the container's filesystem to ``out`` as a tar (names without a ./ prefix)."""
    with filesystem_view(ref) as root, tarfile.open(fileobj=out, mode="w|",
                                                    format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(root)):
            tar.add(root / name, arcname=name, filter=_no_names)


def _no_names(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uname = info.gname = ""  # numeric ids only: host names mean nothing in the image
    return info
