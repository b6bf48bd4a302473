"""fuse-overlayfs: the rootless fallback where the kernel refuses OverlayFS in a user namespace
(kernels before 5.11, or filesystems that refuse it). ``PYCOMPOSE_ROOTLESS_OVERLAY=fuse`` picks
it always (tests, or a kernel overlay that misbehaves)."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from engine.errors import EngineError, MissingPrivilege
from engine.rootless import detect

FORCE_ENV = "PYCOMPOSE_ROOTLESS_OVERLAY"


def _joined() -> bool:
    """Root in our user namespace (a plain non-root process must not mount through
    fusermount3's set-uid bit in the host's mount namespace)."""
    return os.geteuid() == 0 and detect.in_user_namespace()


def use_fuse() -> bool:
    """True when fuse-overlayfs is asked for (rootless only)."""
    return os.environ.get(FORCE_ENV) == "fuse" and _joined()


def can_fall_back() -> bool:
    """True when a refused kernel overlay may be retried with fuse-overlayfs."""
    return _joined() and shutil.which("fuse-overlayfs") is not None


def mount_fuse(options: str, target: Path) -> None:
    """Mount ``options`` (lowerdir/upperdir/workdir) at ``target`` with fuse-overlayfs, which
    serves the mount from a process of its own until it is unmounted."""
    binary = shutil.which("fuse-overlayfs")
    if binary is None:
        raise MissingPrivilege("the kernel refused OverlayFS here and fuse-overlayfs is not "
                               "installed (apt-get install fuse-overlayfs)",
                               step="mount rootfs", obj=str(target))
    done = subprocess.run([binary, "-o", options, str(target)], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)
    if done.returncode != 0:
        raise EngineError(f"fuse-overlayfs: {done.stderr.strip() or done.returncode}",
                          step="mount rootfs", obj=str(target))
