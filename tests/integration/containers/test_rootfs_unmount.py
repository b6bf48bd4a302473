"""engine.containers.rootfs.unmount asks the kernel (no /proc/self/mountinfo scan per call)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.containers import rootfs

pytestmark = pytest.mark.root


def test_unmount_takes_every_stacked_mount_and_ignores_what_is_not_one(tmp_path: Path) -> None:
    target = tmp_path / "rootfs"
    target.mkdir()
    try:
        for size in ("1m", "2m"):  # two mounts stacked on the same point
            subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "pctest", str(target)],
                           check=True)
        assert rootfs.is_mounted(target)
        rootfs.unmount(target)
        assert not rootfs.is_mounted(target)
        rootfs.unmount(target)  # not a mount point (EINVAL): nothing to do
        rootfs.unmount(tmp_path / "missing")  # no such path (ENOENT): nothing to do
        (target / "inner").mkdir()  # a directory inside a mounted file system is no mount
        rootfs.unmount(target / "inner")
    finally:
        subprocess.run(["umount", "-R", str(target)], capture_output=True)
    assert not rootfs.is_mounted(target)
