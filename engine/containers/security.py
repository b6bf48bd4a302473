"""docker's default confinement, as data: capabilities, masked and read-only paths, and a seccomp
profile in OCI JSON.

The seccomp profile is a deny-list (default allow, EPERM for the listed syscalls) rather than
docker's long allow-list: it is short enough to review, denies everything docker's profile denies
to an unprivileged container that matters for escaping (mount, namespaces, keyrings, kexec,
modules, reboot, clock, bpf, perf, handle-based open, ptrace of others), and lifts each group when
the matching capability is added, as docker does. ``privileged`` means no profile at all.
"""
from __future__ import annotations

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


# Syscalls denied unless the capability on the left is granted.
_GATED: dict[str, tuple[str, ...]] = {
    "CAP_SYS_ADMIN": (
        "mount", "umount", "umount2", "unshare", "setns", "pivot_root", "quotactl",
        "lookup_dcookie", "fanotify_init", "name_to_handle_at", "move_mount", "open_tree",
        "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr", "vhangup", "sethostname",
        "setdomainname",
    ),
    "CAP_SYS_BOOT": ("reboot", "kexec_load", "kexec_file_load"),
    "CAP_SYS_MODULE": ("init_module", "finit_module", "delete_module", "create_module",
                       "query_module", "get_kernel_syms"),
    "CAP_SYS_PTRACE": ("kcmp", "process_vm_readv", "process_vm_writev", "pidfd_getfd"),
    "CAP_SYS_TIME": ("clock_settime", "clock_adjtime", "settimeofday", "stime"),
    "CAP_SYS_PACCT": ("acct",),
    "CAP_SYS_RAWIO": ("iopl", "ioperm"),
    "CAP_SYS_NICE": ("set_mempolicy", "mbind", "move_pages"),
    "CAP_DAC_READ_SEARCH": ("open_by_handle_at",),
    "CAP_BPF": ("bpf",),
    "CAP_PERFMON": ("perf_event_open",),
    "CAP_SYSLOG": ("syslog",),
}
# Denied to every unprivileged container.
_ALWAYS_DENIED: tuple[str, ...] = (
    "keyctl", "add_key", "request_key", "swapon", "swapoff", "userfaultfd", "uselib",
    "nfsservctl", "_sysctl", "ustat", "sysfs", "vm86", "vm86old",
    # io_uring bypasses seccomp for the operations it performs (docker dropped it too)
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)
_CLONE_NS_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000,
                   0x40000000)  # NEWNS CGROUP UTS IPC USER PID NET
_EPERM = 1
_ENOSYS = 38


def seccomp_profile(caps: list[str]) -> dict[str, Any]:
    """Return the OCI ``linux.seccomp`` object for a container holding ``caps``."""
    granted = set(caps)
    if "CAP_SYS_ADMIN" in granted:  # docker lifts bpf/perf for SYS_ADMIN too
        granted |= {"CAP_BPF", "CAP_PERFMON"}
    denied = list(_ALWAYS_DENIED)
    for cap, names in _GATED.items():
        if cap not in granted:
            denied.extend(names)
    rules: list[dict[str, Any]] = [
        {"names": sorted(denied), "action": "SCMP_ACT_ERRNO", "errnoRet": _EPERM},
        # glibc falls back to clone(2) when clone3 is "not implemented"; clone3's flags live in
        # a struct seccomp cannot inspect, so refuse it wholesale.
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": _ENOSYS},
    ]
    if "CAP_SYS_PTRACE" not in granted:  # PTRACE_TRACEME (0) stays allowed: only "of others"
        rules.append({"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": _EPERM,
                      "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]})
    if "CAP_SYS_ADMIN" not in granted:  # clone() creating namespaces, one rule per flag
        for flag in _CLONE_NS_FLAGS:
            rules.append({"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": _EPERM,
                          "args": [{"index": 0, "value": flag, "valueTwo": flag,
                                    "op": "SCMP_CMP_MASKED_EQ"}]})
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }
