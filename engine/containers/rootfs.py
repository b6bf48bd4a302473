"""The container root filesystem on the host: an OverlayFS mount of the image layers plus a
per-container upper and work dir, or a bind mount of a plain directory. The only module of this
package that calls mount(2)/umount(2)."""
from __future__ import annotations

import ctypes
import errno
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from engine.errors import EngineError, MissingPrivilege

log = logging.getLogger(__name__)

# The interpreter already links libc; find_library("c") would run ldconfig (~30 ms).
_libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY = 0x1
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 0x2


def _mount(source: str, target: Path, fstype: str, flags: int, data: str, step: str) -> None:
    rc = _libc.mount(source.encode(), str(target).encode(), fstype.encode(), flags,
                     data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            raise MissingPrivilege("mounting needs CAP_SYS_ADMIN (run as root)", step=step,
                                   obj=str(target))
        raise EngineError(f"mount {fstype}: {os.strerror(err)}", step=step, obj=str(target))


def mount_overlay(layers: Sequence[Path], upper: Path, work: Path, target: Path) -> None:
    """Mount ``layers`` (lowest first) + ``upper`` at ``target`` (OverlayFS)."""
    if not layers:
        raise EngineError("an image needs at least one layer", step="mount rootfs",
                          obj=str(target))
    for d in (upper, work, target):
        d.mkdir(parents=True, exist_ok=True)
    lower = ":".join(str(p) for p in reversed(layers))  # overlayfs wants the top layer first
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    if len(options) >= 4096:
        raise EngineError(f"too many layers for one overlay mount ({len(layers)})",
                          step="mount rootfs", obj=str(target))
    from engine.rootless import overlay

    if overlay.use_fuse():
        overlay.mount_fuse(options, target)
        return
    try:
        _mount("overlay", target, "overlay", 0, options + _xattr_option(), "mount rootfs")
    except EngineError as e:
        if not overlay.can_fall_back():
            raise
        log.info("kernel OverlayFS refused in the user namespace (%s): fuse-overlayfs", e)
        overlay.mount_fuse(options, target)


def mount_overlay_readonly(lowers: Sequence[Path], target: Path) -> None:
    """A read-only view of ``lowers`` (lowest first) at ``target``: no upper dir, so a
    container's writable layer can be stacked on its image without being written to (its
    whiteouts still hide what it deleted)."""
    target.mkdir(parents=True, exist_ok=True)
    lower = ":".join(str(p) for p in reversed(lowers))
    if len(lower) >= 4000:
        raise EngineError(f"too many layers for one overlay mount ({len(lowers)})",
                          step="mount rootfs view", obj=str(target))
    _mount("overlay", target, "overlay", MS_RDONLY, f"lowerdir={lower}{_xattr_option()}",
           "mount rootfs view")


def _xattr_option() -> str:
    """Rootless overlay keeps its whiteout and opaque marks in ``user.overlay.*`` xattrs."""
    from engine.rootless import detect

    return ",userxattr" if detect.rootless() else ""


def bind_rootfs(source: Path, target: Path) -> None:
    """Bind-mount a plain directory as the root filesystem."""
    target.mkdir(parents=True, exist_ok=True)
    _mount(str(source), target, "", MS_BIND | MS_REC, "", "mount rootfs")


def is_mounted(target: Path) -> bool:
    """True when ``target`` is a mount point in this mount namespace."""
    wanted = str(target.resolve()) if target.exists() else str(target)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == wanted for line in f)


def unmount(target: Path) -> None:
    """Unmount everything stacked at ``target`` (lazily if busy); no error if not mounted.

    It asks the kernel (EINVAL: not a mount point, ENOENT: no such path) instead of reading
    /proc/self/mountinfo first: that file lists every mount with its options (an overlay's
    lower directories are long), so with every container's rootfs and network namespace
    mounted, reading it per container made starting and removing n containers cost n²."""
    path = str(target).encode()
    for _ in range(8):
        if _libc.umount2(path, 0) == 0:
            continue  # another one may be stacked underneath
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOENT):
            return
        if err == errno.EBUSY:
            _libc.umount2(path, MNT_DETACH)
        else:
            raise EngineError(f"umount: {os.strerror(err)}", step="unmount rootfs",
                              obj=str(target))
