"""Root filesystem steps of the container init: mounts, /dev, pivot_root, masked and read-only
paths. Runs inside the new mount namespace; every kernel call goes through the syscall seam.
"""
from __future__ import annotations

import errno
import os
import stat

from engine.runtime import syscalls as sc
from engine.runtime.spec import DeviceSpec, InitPlan, MountSpec

DEFAULT_DEVICES = (
    DeviceSpec("/dev/null", "c", 1, 3), DeviceSpec("/dev/zero", "c", 1, 5),
    DeviceSpec("/dev/full", "c", 1, 7), DeviceSpec("/dev/random", "c", 1, 8),
    DeviceSpec("/dev/urandom", "c", 1, 9), DeviceSpec("/dev/tty", "c", 5, 0),
)
DEV_SYMLINKS = (("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
                ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
                ("pts/ptmx", "/dev/ptmx"))
_KEEP_ON_REMOUNT = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC


def resolve_in_root(root: str, path: str) -> str:
    """Join ``path`` under ``root`` resolving symlinks as if ``root`` were ``/`` (no escape)."""
    parts = [p for p in path.split("/") if p and p != "."]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate) and hops < 40:
            hops += 1
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def set_root_propagation(plan: InitPlan, s: sc.Syscalls) -> None:
    """Stop our mounts from propagating to the host (rslave by default, like runc)."""
    s.mount("", "/", "", plan.rootfs_propagation, "")


def bind_rootfs(plan: InitPlan, s: sc.Syscalls) -> None:
    """Bind the rootfs onto itself so it is a mount point pivot_root accepts."""
    s.mount(plan.rootfs, plan.rootfs, "", sc.MS_BIND | sc.MS_REC, "")


def mount_entries(plan: InitPlan, s: sc.Syscalls) -> None:
    """Do every entry of config.json ``mounts`` in order."""
    for m in plan.mounts:
        dest = resolve_in_root(plan.rootfs, m.destination)
        if m.type == "cgroup" or m.type == "cgroup2":
            mount_cgroup(m, dest, s, plan.cgroup_path, plan.has_ns("cgroup"))
        elif m.is_bind:
            mount_bind(m, dest, s)
        else:
            make_mountpoint(dest, True, s)
            mount_fs(m, dest, s)
        for prop in m.propagation:
            s.mount("", dest, "", prop, "")


def make_mountpoint(dest: str, is_dir: bool, s: sc.Syscalls) -> None:
    """Create a directory (or an empty file for file binds) to mount on."""
    if s.exists(dest):
        return
    if is_dir:
        s.mkdir(dest, 0o755)
    else:
        s.mkdir(os.path.dirname(dest), 0o755)
        s.touch(dest)


def mount_fs(m: MountSpec, dest: str, s: sc.Syscalls) -> None:
    """Mount a filesystem (proc, tmpfs, devpts, mqueue, sysfs...)."""
    try:
        s.mount(m.source or m.type, dest, m.type, m.flags & ~sc.MS_REMOUNT, m.data)
    except PermissionError:
        if m.type != "sysfs":
            raise
        # In a user namespace sysfs needs a netns we own; fall back to binding the host's.
        s.mount("/sys", dest, "", sc.MS_BIND | sc.MS_REC, "")
        s.mount("", dest, "", sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _KEEP_ON_REMOUNT, "")


def mount_bind(m: MountSpec, dest: str, s: sc.Syscalls) -> None:
    """Bind mount; a second remount applies ro/nosuid/... (the kernel ignores them on bind)."""
    make_mountpoint(dest, s.is_dir(m.source) or not s.exists(m.source), s)
    s.mount(m.source, dest, "", m.flags & (sc.MS_BIND | sc.MS_REC), "")
    extra = m.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
    if extra:
        s.mount("", dest, "", sc.MS_BIND | sc.MS_REMOUNT | extra, "")


def mount_cgroup(m: MountSpec, dest: str, s: sc.Syscalls, cgroup_path: str,
                 own_ns: bool = True) -> None:
    """Mount the cgroup filesystem(s): cgroup2 on unified hosts, tmpfs + each v1 hierarchy.

    Without a cgroup namespace (or where mounting is refused, as in a user namespace) the
    container's own cgroup directories are bind-mounted instead, so it never sees the host's.
    """
    make_mountpoint(dest, True, s)
    flags = (m.flags | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC) & ~sc.MS_BIND
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        if own_ns:
            s.mount("cgroup2", dest, "cgroup2", flags, "")
        else:
            _bind_cgroup(f"/sys/fs/cgroup/{cgroup_path}", dest, flags, s)
        return
    s.mount("tmpfs", dest, "tmpfs", (flags & ~sc.MS_RDONLY), "mode=755")
    for name in sorted(os.listdir("/sys/fs/cgroup")):
        if name == "unified" or not os.path.exists(f"/sys/fs/cgroup/{name}/cgroup.procs"):
            continue
        sub = os.path.join(dest, name)
        s.mkdir(sub, 0o755)
        named = name == "systemd"  # a named hierarchy without controllers
        try:
            if not own_ns:
                raise PermissionError
            s.mount(name if named else "cgroup", sub, "cgroup", flags,
                    "none,name=systemd" if named else name)
        except PermissionError:
            _bind_cgroup(f"/sys/fs/cgroup/{name}/{cgroup_path}", sub, flags, s)
    # Like runc, the tmpfs holding the hierarchies stays rw; the hierarchies themselves are ro.


def _bind_cgroup(source: str, dest: str, flags: int, s: sc.Syscalls) -> None:
    s.mount(source, dest, "", sc.MS_BIND | sc.MS_REC, "")
    s.mount("", dest, "", sc.MS_BIND | sc.MS_REMOUNT | flags, "")


def create_devices(plan: InitPlan, s: sc.Syscalls) -> None:
    """mknod the default devices and linux.devices; bind from the host where mknod is denied."""
    seen = set()
    for dev in (*DEFAULT_DEVICES, *plan.devices):
        if dev.path in seen:
            continue
        seen.add(dev.path)
        dest = resolve_in_root(plan.rootfs, dev.path)
        kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
        mode = kind.get(dev.type, stat.S_IFCHR) | (dev.mode & 0o7777)
        s.mkdir(os.path.dirname(dest), 0o755)
        try:
            s.mknod(dest, mode, os.makedev(dev.major, dev.minor))
            s.chown(dest, dev.uid, dev.gid)
        except FileExistsError:
            continue
        except PermissionError:
            s.touch(dest)
            s.mount(dev.path, dest, "", sc.MS_BIND, "")


def create_dev_symlinks(plan: InitPlan, s: sc.Syscalls) -> None:
    """/dev/fd, /dev/std{in,out,err} and /dev/ptmx -> pts/ptmx."""
    for target, link in DEV_SYMLINKS:
        dest = resolve_in_root(plan.rootfs, link)
        try:
            s.symlink(target, dest)
        except FileExistsError:
            pass


def pivot_root(plan: InitPlan, s: sc.Syscalls) -> None:
    """Make the rootfs ``/``: pivot_root(".", ".") then lazily detach the old root on top."""
    s.chdir(plan.rootfs)
    s.pivot_root(".", ".")
    # The old root is stacked on "/" now; keep its unmount from propagating to the host.
    s.mount("", ".", "", sc.MS_SLAVE | sc.MS_REC, "")
    s.umount2(".", sc.MNT_DETACH)
    s.chdir("/")


def mask_paths(plan: InitPlan, s: sc.Syscalls) -> None:
    """Hide maskedPaths: /dev/null over files, an empty read-only tmpfs over directories."""
    for path in plan.masked_paths:
        if not s.exists(path):
            continue
        if s.is_dir(path):
            s.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY, "")
        else:
            s.mount("/dev/null", path, "", sc.MS_BIND, "")


def readonly_paths(plan: InitPlan, s: sc.Syscalls) -> None:
    """Make readonlyPaths read-only: bind onto itself, then remount ro (keeping nosuid etc.)."""
    for path in plan.readonly_paths:
        if not s.exists(path):
            continue
        s.mount(path, path, "", sc.MS_BIND | sc.MS_REC, "")
        s.mount(path, path, "", sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC
                | _locked_flags(path), "")


def readonly_root(plan: InitPlan, s: sc.Syscalls) -> None:
    """``root.readonly``: remount / read-only."""
    if plan.readonly_root:
        s.mount("", "/", "", sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | _locked_flags("/"), "")


def _locked_flags(path: str) -> int:
    # A bind remount must repeat nosuid/nodev/noexec the mount already has, or it is refused.
    try:
        return os.statvfs(path).f_flag & _KEEP_ON_REMOUNT
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EACCES):
            return 0
        raise
