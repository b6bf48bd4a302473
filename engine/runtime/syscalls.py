"""The syscall seam: every privileged call the runtime makes goes through a ``Syscalls`` object.

``LinuxSyscalls`` calls the kernel (ctypes for what Python 3.11 lacks: unshare, setns, mount,
umount2, pivot_root, prctl, capset, sethostname, setdomainname). ``RecordingSyscalls`` records
the calls instead, so unit tests assert the ORDER of the container setup steps without root.
"""
from __future__ import annotations

import ctypes
import os
import resource
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.libfind import find_library
from engine.runtime import seccomp

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_CAP_VERSION_3 = 0x20080522


class Syscalls(Protocol):
    """The kernel interface used by the container init (see module docstring)."""

    def unshare(self, flags: int) -> None: ...
    def setns(self, target: str | int, nstype: int) -> None: ...
    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None: ...
    def umount2(self, target: str, flags: int) -> None: ...
    def pivot_root(self, new_root: str, put_old: str) -> None: ...
    def chdir(self, path: str) -> None: ...
    def mkdir(self, path: str, mode: int) -> None: ...
    def touch(self, path: str) -> None: ...
    def mknod(self, path: str, mode: int, device: int) -> None: ...
    def symlink(self, target: str, link: str) -> None: ...
    def chown(self, path: str, uid: int, gid: int) -> None: ...
    def exists(self, path: str) -> bool: ...
    def is_dir(self, path: str) -> bool: ...
    def write_file(self, path: str, data: str) -> None: ...
    def sethostname(self, name: str) -> None: ...
    def setdomainname(self, name: str) -> None: ...
    def getrlimit(self, res: int) -> tuple[int, int]: ...
    def setrlimit(self, res: int, soft: int, hard: int) -> None: ...
    def setgroups(self, gids: list[int]) -> None: ...
    def setresgid(self, gid: int) -> None: ...
    def setresuid(self, uid: int) -> None: ...
    def umask(self, mask: int) -> None: ...
    def prctl(self, option: int, arg2: int = 0, arg3: int = 0) -> None: ...
    def capset(self, effective: int, permitted: int, inheritable: int) -> None: ...
    def capget_permitted(self) -> int: ...
    def load_seccomp(self, profile: dict[str, Any], nnp: bool) -> None: ...
    def execve(self, path: str, args: list[str], env: dict[str, str]) -> None: ...
    def loopback_up(self) -> None: ...
    def open_dir(self, path: str) -> int: ...
    def close(self, fd: int) -> None: ...
    def bpf_prog_load(self, insns: bytes, license: str, name: str) -> int: ...
    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int,
                        flags: int) -> None: ...
    def bpf_prog_detach(self, target_fd: int, prog_fd: int, attach_type: int) -> None: ...
    def bpf_prog_query(self, target_fd: int, attach_type: int) -> list[int]: ...
    def bpf_prog_get_fd_by_id(self, prog_id: int) -> int: ...


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    # Loaded once, found without ctypes.util.find_library (which runs ldconfig).
    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(find_library("c") or "libc.so.6", use_errno=True)
    return _LIBC


class LinuxSyscalls:
    """The real kernel."""

    def __init__(self) -> None:
        self.libc = _libc()
        self.libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                    ctypes.c_ulong, ctypes.c_char_p]
        self.libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong,
                                    ctypes.c_ulong, ctypes.c_ulong]

    def _check(self, rc: int, what: str, obj: str = "") -> None:
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}", obj or None)

    def unshare(self, flags: int) -> None:
        self._check(self.libc.unshare(flags), "unshare")

    def setns(self, target: str | int, nstype: int) -> None:
        """Join a namespace given by path or by an open fd."""
        if isinstance(target, int):
            self._check(self.libc.setns(target, nstype), "setns", str(target))
            return
        fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._check(self.libc.setns(fd, nstype), "setns", target)
        finally:
            os.close(fd)

    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None:
        rc = self.libc.mount(source.encode() if source else None, target.encode(),
                             fstype.encode() if fstype else None, flags,
                             data.encode() if data else None)
        self._check(rc, "mount", target)

    def umount2(self, target: str, flags: int) -> None:
        self._check(self.libc.umount2(target.encode(), flags), "umount2", target)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        # glibc has no wrapper; 155 is SYS_pivot_root on x86_64, 41 on aarch64.
        nr = 41 if os.uname().machine == "aarch64" else 155
        self._check(self.libc.syscall(nr, new_root.encode(), put_old.encode()), "pivot_root",
                    new_root)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def mkdir(self, path: str, mode: int) -> None:
        os.makedirs(path, mode=mode, exist_ok=True)

    def touch(self, path: str) -> None:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))

    def mknod(self, path: str, mode: int, device: int) -> None:
        os.mknod(path, mode, device)

    def symlink(self, target: str, link: str) -> None:
        os.symlink(target, link)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(path, uid, gid)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def write_file(self, path: str, data: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)

    def sethostname(self, name: str) -> None:
        raw = name.encode()
        self._check(self.libc.sethostname(raw, len(raw)), "sethostname", name)

    def setdomainname(self, name: str) -> None:
        raw = name.encode()
        self._check(self.libc.setdomainname(raw, len(raw)), "setdomainname", name)

    def getrlimit(self, res: int) -> tuple[int, int]:
        return resource.getrlimit(res)

    def setrlimit(self, res: int, soft: int, hard: int) -> None:
        resource.setrlimit(res, (soft, hard))

    def setgroups(self, gids: list[int]) -> None:
        os.setgroups(gids)

    def setresgid(self, gid: int) -> None:
        os.setresgid(gid, gid, gid)

    def setresuid(self, uid: int) -> None:
        os.setresuid(uid, uid, uid)

    def umask(self, mask: int) -> None:
        os.umask(mask)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0) -> None:
        self._check(self.libc.prctl(option, arg2, arg3, 0, 0), f"prctl({option})")

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
        data = (ctypes.c_uint32 * 6)(
            effective & 0xFFFFFFFF, permitted & 0xFFFFFFFF, inheritable & 0xFFFFFFFF,
            effective >> 32, permitted >> 32, inheritable >> 32)
        self._check(self.libc.capset(header, data), "capset")

    def capget_permitted(self) -> int:
        header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
        data = (ctypes.c_uint32 * 6)()
        self._check(self.libc.capget(header, data), "capget")
        return int(data[1]) | (int(data[4]) << 32)

    def load_seccomp(self, profile: dict[str, Any], nnp: bool) -> None:
        # nnp is already set by then when wanted; the filter never sets it on its own.
        seccomp.load_bpf(seccomp.compile_bpf(profile), self.libc)

    def execve(self, path: str, args: list[str], env: dict[str, str]) -> None:
        reset_signals()
        os.execve(path, args, env)

    def loopback_up(self) -> None:
        set_loopback_up()

    def open_dir(self, path: str) -> int:
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self, fd: int) -> None:
        os.close(fd)

    # bpf(): cgroup v2 device programs (engine/runtime/bpf.py packs the attributes)
    def bpf_prog_load(self, insns: bytes, license: str, name: str) -> int:
        from engine.runtime import bpf
        return bpf.prog_load(insns, license, name)

    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int,
                        flags: int) -> None:
        from engine.runtime import bpf
        bpf.prog_attach(target_fd, prog_fd, attach_type, flags)

    def bpf_prog_detach(self, target_fd: int, prog_fd: int, attach_type: int) -> None:
        from engine.runtime import bpf
        bpf.prog_detach(target_fd, prog_fd, attach_type)

    def bpf_prog_query(self, target_fd: int, attach_type: int) -> list[int]:
        from engine.runtime import bpf
        return bpf.prog_query(target_fd, attach_type)

    def bpf_prog_get_fd_by_id(self, prog_id: int) -> int:
        from engine.runtime import bpf
        return bpf.prog_get_fd_by_id(prog_id)


@dataclass
class RecordingSyscalls:
    """A fake kernel that records every call as ``(name, args)`` for order assertions.

    ``files`` lists paths that "exist"; ``dirs`` those that are directories; ``fail_on`` maps a
    call name to the exception it raises (after being recorded).
    """

    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    files: set[str] = field(default_factory=set)
    dirs: set[str] = field(default_factory=set)
    rlimits: dict[int, tuple[int, int]] = field(default_factory=dict)
    fail_on: dict[str, BaseException] = field(default_factory=dict)
    # bpf: fds map to cgroup paths or program ids; ``attached`` is what the "kernel" holds.
    fds: dict[int, str | int] = field(default_factory=dict)
    attached: dict[str, list[int]] = field(default_factory=dict)
    programs: dict[int, bytes] = field(default_factory=dict)

    def _rec(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.fail_on:
            raise self.fail_on[name]

    def names(self) -> list[str]:
        """The recorded call names, in order."""
        return [c[0] for c in self.calls]

    def unshare(self, flags: int) -> None: self._rec("unshare", flags)
    def setns(self, target: str | int, nstype: int) -> None: self._rec("setns", target, nstype)
    def mount(self, source: str, target: str, fstype: str, flags: int, data: str) -> None:
        self._rec("mount", source, target, fstype, flags, data)
    def umount2(self, target: str, flags: int) -> None: self._rec("umount2", target, flags)
    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._rec("pivot_root", new_root, put_old)
    def chdir(self, path: str) -> None: self._rec("chdir", path)
    def mkdir(self, path: str, mode: int) -> None:
        self._rec("mkdir", path, mode)
        self.dirs.add(path)
    def touch(self, path: str) -> None:
        self._rec("touch", path)
        self.files.add(path)
    def mknod(self, path: str, mode: int, device: int) -> None:
        self._rec("mknod", path, mode, device)
    def symlink(self, target: str, link: str) -> None: self._rec("symlink", target, link)
    def chown(self, path: str, uid: int, gid: int) -> None: self._rec("chown", path, uid, gid)
    def exists(self, path: str) -> bool: return path in self.files or path in self.dirs
    def is_dir(self, path: str) -> bool: return path in self.dirs
    def write_file(self, path: str, data: str) -> None: self._rec("write_file", path, data)
    def sethostname(self, name: str) -> None: self._rec("sethostname", name)
    def setdomainname(self, name: str) -> None: self._rec("setdomainname", name)
    def getrlimit(self, res: int) -> tuple[int, int]:
        return self.rlimits.get(res, (1024, 20000))
    def setrlimit(self, res: int, soft: int, hard: int) -> None:
        self._rec("setrlimit", res, soft, hard)
    def setgroups(self, gids: list[int]) -> None: self._rec("setgroups", list(gids))
    def setresgid(self, gid: int) -> None: self._rec("setresgid", gid)
    def setresuid(self, uid: int) -> None: self._rec("setresuid", uid)
    def umask(self, mask: int) -> None: self._rec("umask", mask)
    def prctl(self, option: int, arg2: int = 0, arg3: int = 0) -> None:
        self._rec("prctl", option, arg2, arg3)
    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._rec("capset", effective, permitted, inheritable)
    def capget_permitted(self) -> int:
        return (1 << 41) - 1 - (1 << 24)  # like this host: everything but CAP_SYS_RESOURCE
    def load_seccomp(self, profile: dict[str, Any], nnp: bool) -> None:
        self._rec("load_seccomp", nnp)
    def execve(self, path: str, args: list[str], env: dict[str, str]) -> None:
        self._rec("execve", path, list(args), dict(env))
    def loopback_up(self) -> None: self._rec("loopback_up")

    def _new_fd(self, what: str | int) -> int:
        fd = 100 + len(self.fds)
        self.fds[fd] = what
        return fd

    def open_dir(self, path: str) -> int:
        self._rec("open_dir", path)
        return self._new_fd(path)
    def close(self, fd: int) -> None: self._rec("close", fd)
    def bpf_prog_load(self, insns: bytes, license: str, name: str) -> int:
        self._rec("bpf_prog_load", name)
        prog_id = 1 + len(self.programs)
        self.programs[prog_id] = insns
        return self._new_fd(prog_id)
    def bpf_prog_attach(self, target_fd: int, prog_fd: int, attach_type: int,
                        flags: int) -> None:
        self._rec("bpf_prog_attach", self.fds[target_fd], self.fds[prog_fd], attach_type, flags)
        self.attached.setdefault(str(self.fds[target_fd]), []).append(int(self.fds[prog_fd]))
    def bpf_prog_detach(self, target_fd: int, prog_fd: int, attach_type: int) -> None:
        self._rec("bpf_prog_detach", self.fds[target_fd], self.fds[prog_fd], attach_type)
        self.attached[str(self.fds[target_fd])].remove(int(self.fds[prog_fd]))
    def bpf_prog_query(self, target_fd: int, attach_type: int) -> list[int]:
        self._rec("bpf_prog_query", self.fds[target_fd], attach_type)
        return list(self.attached.get(str(self.fds[target_fd]), []))
    def bpf_prog_get_fd_by_id(self, prog_id: int) -> int:
        self._rec("bpf_prog_get_fd_by_id", prog_id)
        return self._new_fd(prog_id)


def reset_signals() -> None:
    """Default disposition for every signal and an empty mask, as a container process starts
    under runc: an ignored signal would stay ignored across execve (the shim's SIGINT, the
    interpreter's SIGPIPE), and a shell in the container could not be interrupted."""
    import signal

    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):
                pass  # signals the kernel reserves (32, 33 for the C library)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def set_loopback_up() -> None:
    """Bring ``lo`` up in the current (new) network namespace, like docker's none network."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s.fileno(), siocgifflags, req))[1]
        fcntl.ioctl(s.fileno(), siocsifflags, struct.pack("16sh14x", b"lo", flags | iff_up))


class _CloneArgs(ctypes.Structure):
    """``struct clone_args`` of clone3(2), up to ``cgroup`` (Linux 5.7)."""

    _fields_ = [(name, ctypes.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls",
        "set_tid", "set_tid_size", "cgroup")]


CLONE_INTO_CGROUP = 0x200000000
_SYS_CLONE3 = 435  # the same number on every architecture


def fork_into_cgroup(cgroup_fd: int) -> int:
    """fork(), the child born in the cgroup v2 directory ``cgroup_fd`` (clone3 with
    CLONE_INTO_CGROUP). Moving a process into a cgroup afterwards takes the kernel's global
    threadgroup lock for writing, which waits for an RCU grace period (6-25 ms here) whenever
    no other move ran just before; a child born there skips that.

    Returns 0 in the child and the child's pid in the parent; raises OSError (ENOSYS, E2BIG or
    EINVAL before Linux 5.7: the caller falls back). Only for single-threaded callers (the
    bootstrap processes are): the raw syscall skips Python's before-fork hooks, and the child
    runs the after-fork ones itself.
    """
    return clone3_fork(0, cgroup_fd)


def clone3_fork(flags: int, cgroup_fd: int | None = None) -> int:
    """fork() with clone3 ``flags`` (namespaces to create: the child is born in them) and, with
    ``cgroup_fd``, born in that cgroup v2 directory (see :func:`fork_into_cgroup`).

    Returns 0 in the child and the child's pid in the parent; raises OSError (ENOSYS before
    Linux 5.3, E2BIG/EINVAL where a field is unknown, EPERM, ...: the caller falls back).
    Only for single-threaded callers, as :func:`fork_into_cgroup`.
    """
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    if cgroup_fd is not None:
        flags |= CLONE_INTO_CGROUP
    args = _CloneArgs(flags=flags, exit_signal=17,  # SIGCHLD
                      cgroup=cgroup_fd if cgroup_fd is not None else 0)
    pid = int(libc.syscall(ctypes.c_long(_SYS_CLONE3), ctypes.byref(args),
                           ctypes.c_size_t(ctypes.sizeof(args))))
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone3: {os.strerror(err)}")
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()  # what os.fork() does in its child
    return pid


def fork_sibling() -> int:
    """fork(), but the child's parent is OUR parent (clone with CLONE_PARENT), like runc's
    nsexec: the container init and exec'd processes become children of the runtime's caller,
    which can then waitpid() them, instead of orphans of a pid namespace's init.

    Returns 0 in the child and the child's pid in the parent. Only for single-threaded callers
    (the bootstrap processes are): the raw syscall skips Python's after-fork hooks.
    """
    clone_parent, sigchld = 0x00008000, 17
    nr = 220 if os.uname().machine == "aarch64" else 56
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    pid = int(libc.syscall(ctypes.c_long(nr), ctypes.c_ulong(clone_parent | sigchld),
                           ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_void_p(0),
                           ctypes.c_ulong(0)))
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid
