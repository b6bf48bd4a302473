"""docker's default confinement, as data: capabilities, masked and read-only paths, and a seccomp
profile in OCI JSON.

The seccomp profile follows docker's default semantics: an allow-list (anything not listed,
including syscalls newer than the list, fails with EPERM), syscalls added per capability
(``cap_add: [SYS_TIME]`` allows ``clock_settime``), and a few allowed only with harmless
arguments (``socket`` but not AF_VSOCK, ``clone`` without namespace flags, ``personality``
queries). It never allows more than docker's: io_uring and keyrings stay refused even where
older docker allowed them. ``privileged`` or ``security_opt: [seccomp=unconfined]`` means no
profile at all.
"""
from __future__ import annotations

import os
from typing import Any

from engine.errors import EngineError

DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

ALL_CAPS: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)

MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)

READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)


def normalize_cap(name: str) -> str:
    """``net_admin`` / ``NET_ADMIN`` / ``CAP_NET_ADMIN`` → ``CAP_NET_ADMIN``; ``ALL`` stays."""
    upper = name.strip().upper()
    if upper == "ALL":
        return upper
    cap = upper if upper.startswith("CAP_") else "CAP_" + upper
    if cap not in ALL_CAPS:
        raise EngineError(f"unknown capability {name!r}", step="capabilities", obj=name)
    return cap


def effective_caps(cap_add: tuple[str, ...], cap_drop: tuple[str, ...],
                   privileged: bool) -> list[str]:
    """docker's rule: start from the default 14 (or all when privileged), add, then drop;
    ``ALL`` in cap_add means all, ``ALL`` in cap_drop means none besides the added ones."""
    if privileged:
        return list(ALL_CAPS)
    adds = {normalize_cap(c) for c in cap_add}
    drops = {normalize_cap(c) for c in cap_drop}
    base = set(ALL_CAPS) if "ALL" in adds else set(DEFAULT_CAPS)
    if "ALL" in drops:
        return sorted(adds - {"ALL"})
    return sorted((base | (adds - {"ALL"})) - drops)


# The seccomp profile: docker's default semantics written out as data of our own. The default
# action refuses (EPERM); a container may use the syscalls listed here, grouped by what they are
# for; some are added per capability; a few are allowed only with harmless arguments. A syscall
# the kernel adds later is refused until it is reviewed and listed (what an allow-list is for).
_FILES = (
    "access", "faccessat", "faccessat2", "chdir", "fchdir", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "chown32", "fchown", "fchown32", "fchownat", "lchown", "lchown32",
    "close", "close_range", "copy_file_range", "creat", "dup", "dup2", "dup3", "fadvise64",
    "fadvise64_64", "fallocate", "fanotify_mark", "fcntl", "fcntl64", "fdatasync", "flock",
    "fsync", "ftruncate", "ftruncate64", "truncate", "truncate64", "getcwd", "getdents",
    "getdents64", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
    "ioctl", "link", "linkat", "lseek", "_llseek", "mkdir", "mkdirat", "mknod", "mknodat",
    "name_to_handle_at", "open", "openat", "openat2", "pipe", "pipe2", "read", "readv",
    "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev", "pwritev2",
    "readahead", "readlink", "readlinkat", "rename", "renameat", "renameat2", "rmdir",
    "sendfile", "sendfile64", "splice", "tee", "vmsplice", "stat", "stat64", "fstat", "fstat64",
    "fstatat64", "newfstatat", "lstat", "lstat64", "statx", "statfs", "statfs64", "fstatfs",
    "fstatfs64", "symlink", "symlinkat", "sync", "syncfs", "sync_file_range", "umask",
    "unlink", "unlinkat", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
    "getxattr", "lgetxattr", "fgetxattr", "setxattr", "lsetxattr", "fsetxattr", "listxattr",
    "llistxattr", "flistxattr", "removexattr", "lremovexattr", "fremovexattr", "cachestat",
    "io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
    "io_pgetevents_time64", "ioprio_get", "ioprio_set",
)
_EVENTS = (
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_wait",
    "epoll_wait_old", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "poll", "ppoll",
    "ppoll_time64", "select", "_newselect", "pselect6", "pselect6_time64", "signalfd",
    "signalfd4", "timerfd_create", "timerfd_settime", "timerfd_settime64", "timerfd_gettime",
    "timerfd_gettime64",
)
_MEMORY = (
    "brk", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mlock",
    "mlock2", "mlockall", "munlock", "munlockall", "mmap", "mmap2", "mprotect", "mremap",
    "msync", "munmap", "remap_file_pages", "pkey_alloc", "pkey_free", "pkey_mprotect",
    "map_shadow_stack", "mseal",
)
_PROCESSES = (
    "execve", "execveat", "exit", "exit_group", "fork", "vfork", "wait4", "waitid", "waitpid",
    "getpid", "getppid", "gettid", "getpgid", "setpgid", "getpgrp", "getsid", "setsid",
    "getpriority", "setpriority", "getrlimit", "setrlimit", "ugetrlimit", "prlimit64",
    "getrusage", "times", "prctl", "capget", "capset", "set_tid_address", "set_robust_list",
    "get_robust_list", "rseq", "restart_syscall", "futex", "futex_time64", "futex_waitv",
    "futex_wake", "futex_wait", "futex_requeue", "get_thread_area", "set_thread_area",
    "getcpu", "getrandom", "uname", "sysinfo", "seccomp", "landlock_create_ruleset",
    "landlock_add_rule", "landlock_restrict_self", "pidfd_open", "pidfd_send_signal",
    "process_mrelease", "sched_yield", "sched_getaffinity", "sched_setaffinity",
    "sched_getattr", "sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
    "sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
    "sched_rr_get_interval", "sched_rr_get_interval_time64",
)
_IDENTITY = (
    "getuid", "getuid32", "geteuid", "geteuid32", "getgid", "getgid32", "getegid",
    "getegid32", "getresuid", "getresuid32", "getresgid", "getresgid32", "getgroups",
    "getgroups32", "setuid", "setuid32", "setgid", "setgid32", "setreuid", "setreuid32",
    "setregid", "setregid32", "setresuid", "setresuid32", "setresgid", "setresgid32",
    "setfsuid", "setfsuid32", "setfsgid", "setfsgid32", "setgroups", "setgroups32",
)
_SIGNALS = (
    "kill", "tkill", "tgkill", "pause", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
    "rt_sigqueueinfo", "rt_tgsigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "sigaltstack", "sigprocmask", "sigreturn",
)
# Reading clocks, timers and sleeping. adjtimex/clock_adjtime are here because their read mode
# is harmless: the kernel itself requires CAP_SYS_TIME for any change (docker allows them too).
_TIME = (
    "adjtimex", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
    "gettimeofday", "time", "nanosleep", "alarm", "getitimer", "setitimer", "timer_create",
    "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
    "timer_settime64",
)
_NETWORK = (
    "accept", "accept4", "bind", "connect", "listen", "getpeername", "getsockname",
    "getsockopt", "setsockopt", "recv", "recvfrom", "recvmsg", "recvmmsg", "recvmmsg_time64",
    "send", "sendto", "sendmsg", "sendmmsg", "shutdown", "socketpair", "socketcall",
)
_IPC = (
    "ipc", "msgget", "msgctl", "msgrcv", "msgsnd", "semget", "semctl", "semop", "semtimedop",
    "semtimedop_time64", "shmget", "shmat", "shmctl", "shmdt", "mq_open", "mq_unlink",
    "mq_getsetattr", "mq_notify", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64",
)
# Debugging one's own processes: safe since kernel 4.8 (seccomp is re-checked after a ptrace
# stop), so docker allows them there; older kernels need CAP_SYS_PTRACE.
_TRACE = ("ptrace", "process_vm_readv", "process_vm_writev")
_X86 = ("arch_prctl", "modify_ldt")
ALLOWED_SYSCALLS: tuple[str, ...] = (_FILES + _EVENTS + _MEMORY + _PROCESSES + _IDENTITY
                                     + _SIGNALS + _TIME + _NETWORK + _IPC + _X86)

# Allowed only when the container holds the capability on the left.
_BY_CAPABILITY: dict[str, tuple[str, ...]] = {
    "CAP_SYS_ADMIN": (
        "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
        "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
        "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
        "umount2", "unshare",
    ),
    "CAP_SYS_BOOT": ("reboot",),
    "CAP_SYS_CHROOT": ("chroot",),
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_madvise", *_TRACE),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_settime64"),
    "CAP_SYS_TTY_CONFIG": ("vhangup",),
    "CAP_SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
    "CAP_SYSLOG": ("syslog",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
}
# Never allowed, whatever the capabilities (kept out of every list above on purpose):
# io_uring performs I/O the filter never sees (docker 25 refuses it as well); keyrings are not
# namespaced; the rest are obsolete or host-wide (swap, kexec, userfaultfd, ...).
NEVER_ALLOWED: tuple[str, ...] = (
    "io_uring_setup", "io_uring_enter", "io_uring_register", "keyctl", "add_key",
    "request_key", "kexec_load", "kexec_file_load", "swapon", "swapoff", "userfaultfd",
    "pivot_root", "uselib", "nfsservctl", "_sysctl", "ustat", "sysfs", "vm86", "vm86old",
    "create_module", "query_module", "get_kernel_syms",
)
_AF_VSOCK = 40
# personality(2) values that only query or select Linux behaviour: PER_LINUX, PER_LINUX32,
# UNAME26, PER_LINUX32|UNAME26, and 0xffffffff (query).
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
_CLONE_NEW_NAMESPACES = 0x7E020000  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
_EPERM = 1
_ENOSYS = 38


def _kernel_at_least(major: int, minor: int) -> bool:
    release = os.uname().release.split("-", 1)[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (major, minor)
    except (IndexError, ValueError):
        return False


def _allow(names: list[str] | tuple[str, ...], *args: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = {"names": sorted(names), "action": "SCMP_ACT_ALLOW"}
    if args:
        rule["args"] = list(args)
    return rule


def seccomp_profile(caps: list[str]) -> dict[str, Any]:
    """Return the OCI ``linux.seccomp`` object for a container holding ``caps``."""
    granted = set(caps)
    allowed = set(ALLOWED_SYSCALLS)
    if _kernel_at_least(4, 8):
        allowed.update(_TRACE)
    for cap, names in _BY_CAPABILITY.items():
        if cap in granted:
            allowed.update(names)
    rules = [_allow(sorted(allowed)),
             _allow(["socket"], {"index": 0, "value": _AF_VSOCK, "op": "SCMP_CMP_NE"})]
    rules += [_allow(["personality"], {"index": 0, "value": v, "op": "SCMP_CMP_EQ"})
              for v in _PERSONALITIES]
    if "CAP_SYS_ADMIN" not in granted:
        # clone() without namespace flags; clone3 hides its flags in a struct the filter cannot
        # read, so it answers ENOSYS and libc falls back to clone().
        rules.append(_allow(["clone"], {"index": 0, "value": _CLONE_NEW_NAMESPACES,
                                        "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}))
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": _ENOSYS})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": _EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }
