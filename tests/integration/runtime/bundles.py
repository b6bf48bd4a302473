"""Hand-built OCI bundles for runtime tests and benchmarks (docker-like defaults)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.runtime.capabilities import DOCKER_DEFAULT

MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

DENY_PROFILE: dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mount", "umount2", "unshare", "reboot", "init_module",
                            "finit_module", "delete_module", "kexec_load", "keyctl"],
                  "action": "SCMP_ACT_ERRNO", "errnoRet": 1}],
}


def default_mounts() -> list[dict[str, Any]]:
    """The mounts docker puts in every container."""
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    ]


def make_config(args: list[str], *, rootfs: str = "rootfs", hostname: str = "box",
                cgroups_path: str | None = None, terminal: bool = False,
                seccomp: dict[str, Any] | None = None, no_new_privs: bool = True,
                resources: dict[str, Any] | None = None, readonly: bool = False,
                extra_mounts: list[dict[str, Any]] | None = None,
                user: dict[str, Any] | None = None,
                namespaces: list[str] | None = None,
                nofile: int = 1048576) -> dict[str, Any]:
    """An OCI config.json like the one docker generates for ``docker run busybox ARGS``."""
    caps = list(DOCKER_DEFAULT)
    ns = namespaces or ["pid", "network", "ipc", "uts", "mount", "cgroup"]
    linux: dict[str, Any] = {
        "namespaces": [{"type": t} for t in ns],
        "maskedPaths": MASKED, "readonlyPaths": READONLY,
        "resources": resources or {},
    }
    if cgroups_path:
        linux["cgroupsPath"] = cgroups_path
    if seccomp is not None:
        linux["seccomp"] = seccomp
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": terminal, "user": user or {"uid": 0, "gid": 0}, "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME=/root"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
            "noNewPrivileges": no_new_privs,
        },
        "root": {"path": rootfs, "readonly": readonly},
        "hostname": hostname,
        "mounts": default_mounts() + (extra_mounts or []),
        "linux": linux,
    }


def write_bundle(bundle: Path, config: dict[str, Any]) -> Path:
    """Write config.json into ``bundle`` (the rootfs must already be at config root.path)."""
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle
