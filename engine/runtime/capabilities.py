"""Linux capability names <-> numbers and bit masks (OCI uses names like ``CAP_CHOWN``)."""
from __future__ import annotations

from collections.abc import Iterable

from engine.errors import EngineError

NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
    "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
    "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
)
NUMBERS = {"CAP_" + n: i for i, n in enumerate(NAMES)}

# docker's default capability set (moby oci/caps/defaults.go), 14 capabilities.
DOCKER_DEFAULT = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)


def last_cap() -> int:
    """The highest capability number this kernel knows (read once per process: shims and
    inits forked by the shim server inherit it)."""
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _last_cap = int(f.read())
        except OSError:
            return len(NAMES) - 1
    return _last_cap


_last_cap: int | None = None


def number(name: str) -> int:
    """Capability number for ``CAP_X`` (or ``X``)."""
    key = name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper()
    if key not in NUMBERS:
        raise EngineError(f"unknown capability {name!r}", step="capabilities", obj=name)
    return NUMBERS[key]


def mask(names: Iterable[str]) -> int:
    """Bit mask of the named capabilities (ones unknown to this kernel are skipped)."""
    top = last_cap()
    bits = 0
    for name in names:
        n = number(name)
        if n <= top:
            bits |= 1 << n
    return bits


def all_mask() -> int:
    """Every capability the kernel knows."""
    return (1 << (last_cap() + 1)) - 1
