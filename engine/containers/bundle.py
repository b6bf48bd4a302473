"""Turn a ContainerSpec into an OCI runtime spec (``config.json``), like dockerd does.

Pure: everything host-specific (host rlimits, swap accounting, the init binary) comes in as
arguments, so the unit tests check the JSON without root.
"""
from __future__ import annotations

import dataclasses
import logging
import resource
import signal
from dataclasses import dataclass
from typing import Any

from engine.containers.devices import oci_block_io, oci_devices
from engine.containers.security import (
    MASKED_PATHS,
    READONLY_PATHS,
    effective_caps,
    seccomp_profile,
)
from engine.containers.spec import ContainerSpec, Mount, MountType, NetworkMode, Resources
from engine.containers.users import ResolvedUser
from engine.errors import EngineError
from engine.naming import CGROUP_PARENT

log = logging.getLogger(__name__)

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHM = 64 * 1024 * 1024
INIT_PATH = "/sbin/docker-init"  # where the reaping init (tini-static) is bind-mounted
CPU_PERIOD = 100_000

RLIMITS = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}
_NS_SYSCTL_PREFIXES = ("kernel.msg", "kernel.sem", "kernel.shm", "fs.mqueue.", "net.")
_NS_SYSCTL_KEYS = ("kernel.shm_rmid_forced", "kernel.domainname", "kernel.hostname")


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What the bundle depends on from the host."""

    swap_accounting: bool = False
    init_binary: str | None = None
    blkio_weight: bool = False  # the kernel can weigh block I/O (v2 io, v1 CFQ/BFQ)


def build_config(cid: str, spec: ContainerSpec, user: ResolvedUser, host: HostFacts,
                 rootfs: str = "rootfs") -> dict[str, Any]:
    """Return the OCI ``config.json`` object for ``spec`` running as ``user``."""
    if not spec.argv:
        raise EngineError("no command specified", step="create", obj=spec.name)
    caps = effective_caps(spec.cap_add, spec.cap_drop, spec.privileged)
    hostname = spec.hostname or cid[:12]
    return {
        "ociVersion": OCI_VERSION,
        "process": _process(spec, user, caps, host, hostname),
        "root": {"path": rootfs, "readonly": spec.read_only},
        "hostname": hostname,
        "domainname": spec.domainname,
        "mounts": default_mounts(spec) + [_user_mount(m) for m in spec.mounts] + _init_mount(
            spec, host),
        "linux": _linux(cid, spec, caps, host),
        "annotations": {"org.pycompose.container.name": spec.name},
    }


def _process(spec: ContainerSpec, user: ResolvedUser, caps: list[str],
             host: HostFacts, hostname: str) -> dict[str, Any]:
    argv = list(spec.argv)
    if spec.init:
        if host.init_binary is None:
            raise EngineError("init: true needs tini-static (apt-get install tini)",
                              step="create", obj=spec.name)
        argv = [INIT_PATH, "--", *argv]
    process: dict[str, Any] = {
        "terminal": spec.tty,
        "user": {"uid": user.uid, "gid": user.gid,
                 **({"additionalGids": list(user.additional_gids)}
                    if user.additional_gids else {})},
        "args": argv,
        "env": process_env(spec.env, hostname, user.home, spec.tty),
        "cwd": spec.working_dir or "/",
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        "rlimits": rlimits(spec.ulimits, spec.name),
        "noNewPrivileges": spec.no_new_privileges,
    }
    if spec.resources.oom_score_adj is not None:
        process["oomScoreAdj"] = spec.resources.oom_score_adj
    return process


def process_env(env: tuple[str, ...], hostname: str, home: str, tty: bool) -> list[str]:
    """docker's environment: PATH default, HOSTNAME, HOME from passwd, TERM for a tty."""
    keys = {e.partition("=")[0] for e in env}
    out = []
    if "PATH" not in keys:
        out.append(f"PATH={DEFAULT_PATH}")
    if hostname and "HOSTNAME" not in keys:
        out.append(f"HOSTNAME={hostname}")
    if "HOME" not in keys:
        out.append(f"HOME={home or '/'}")
    if tty and "TERM" not in keys:
        out.append("TERM=xterm")
    return out + list(env)


def rlimits(ulimits: dict[str, tuple[int, int]], obj: str) -> list[dict[str, Any]]:
    """OCI rlimits, clamped to the host's hard limits (asking for more would fail)."""
    out = []
    for name, (soft, hard) in sorted(ulimits.items()):
        key = RLIMITS.get(name.lower())
        if key is None:
            raise EngineError(f"unknown ulimit {name!r}", step="create", obj=obj)
        host_hard = resource.getrlimit(getattr(resource, key))[1]
        if host_hard != resource.RLIM_INFINITY and (hard < 0 or hard > host_hard):
            log.warning("%s: ulimit %s hard %s above the host's hard limit %s; clamped",
                        obj, name, hard, host_hard)
            hard = host_hard
        soft = hard if soft < 0 or soft > hard >= 0 else soft
        out.append({"type": key, "soft": _rlim(soft), "hard": _rlim(hard)})
    return out


def _rlim(value: int) -> int:
    return 2**64 - 1 if value < 0 else value


def default_mounts(spec: ContainerSpec) -> list[dict[str, Any]]:
    """docker's default filesystem mounts (/proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys,
    /sys/fs/cgroup); /sys and the cgroup tree are read-only unless privileged."""
    ro = [] if spec.privileged else ["ro"]
    shm = spec.shm_size or DEFAULT_SHM
    targets = {m.target.rstrip("/") for m in spec.mounts}
    mounts = [
        _m("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _m("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _m("/dev/pts", "devpts", "devpts",
           ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        _m("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", *ro]),
        _m("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime", *ro]),
        _m("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        _m("/dev/shm", "shm", "tmpfs", ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm}"]),
    ]
    return [m for m in mounts if m["destination"] not in targets]


def _m(dest: str, source: str, fstype: str, options: list[str]) -> dict[str, Any]:
    return {"destination": dest, "type": fstype, "source": source, "options": options}


def _user_mount(mount: Mount) -> dict[str, Any]:
    if mount.type is MountType.TMPFS:
        opts = ["nosuid", "nodev", "noexec"] + (["ro"] if mount.read_only else [])
        if mount.tmpfs_size:
            opts.append(f"size={mount.tmpfs_size}")
        if mount.tmpfs_mode is not None:
            opts.append(f"mode={mount.tmpfs_mode:o}")
        return _m(mount.target, "tmpfs", "tmpfs", opts)
    if mount.type is MountType.IMAGE:
        if len(mount.lower) == 1:
            return _m(mount.target, mount.lower[0], "bind", ["rbind", "ro", "rprivate"])
        # read-only overlay: lower directories only, the leftmost on top
        lowerdir = ":".join(reversed(mount.lower))
        return _m(mount.target, "overlay", "overlay", ["ro", "nosuid", "nodev",
                                                        f"lowerdir={lowerdir}"])
    opts = ["rbind", "ro" if mount.read_only else "rw", mount.propagation or "rprivate"]
    return _m(mount.target, mount.source, "bind", opts)


def _init_mount(spec: ContainerSpec, host: HostFacts) -> list[dict[str, Any]]:
    if not spec.init or host.init_binary is None:
        return []
    return [_m(INIT_PATH, host.init_binary, "bind", ["bind", "ro"])]


def _linux(cid: str, spec: ContainerSpec, caps: list[str], host: HostFacts) -> dict[str, Any]:
    linux: dict[str, Any] = {
        "namespaces": namespaces(spec),
        "cgroupsPath": f"/{CGROUP_PARENT}/{cid}",
        "resources": resources(spec.resources, spec.privileged, host),
        "sysctl": _sysctls(spec),
    }
    if spec.devices:
        nodes, rules = oci_devices(spec.devices)
        linux["devices"] = nodes
        if not spec.privileged:  # privileged already allows every device
            linux["resources"]["devices"] += rules
    if not spec.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
        if spec.seccomp != "unconfined":
            linux["seccomp"] = seccomp_profile(caps)
    return linux


def namespaces(spec: ContainerSpec) -> list[dict[str, Any]]:
    """pid, mount, ipc, uts, cgroup and network namespaces per the spec's modes."""
    out: list[dict[str, Any]] = [{"type": "mount"}, {"type": "uts"}, {"type": "cgroup"}]
    for kind, mode in (("pid", spec.pid_mode), ("ipc", spec.ipc_mode)):
        if mode.startswith("/"):  # join: a namespace file, e.g. /proc/<pid>/ns/ipc
            out.append({"type": kind, "path": mode})
        elif mode != "host":
            out.append({"type": kind})
    if spec.netns_path:
        out.append({"type": "network", "path": spec.netns_path})
    elif spec.network_mode is not NetworkMode.HOST:
        out.append({"type": "network"})
    return out


def resources(res: Resources, privileged: bool, host: HostFacts) -> dict[str, Any]:
    """OCI ``linux.resources`` from docker-style limits."""
    out: dict[str, Any] = {"devices": device_rules(privileged)}
    memory: dict[str, Any] = {}
    if res.memory:
        memory["limit"] = res.memory
        if host.swap_accounting:
            # docker: unset swap means "as much swap as memory"; -1 means unlimited.
            memory["swap"] = res.memory_swap if res.memory_swap else 2 * res.memory
    if res.memory_reservation:
        memory["reservation"] = res.memory_reservation
    if memory:
        out["memory"] = memory
    cpu: dict[str, Any] = {}
    if res.cpus:
        cpu.update(period=CPU_PERIOD, quota=int(res.cpus * CPU_PERIOD))
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.cpuset:
        cpu["cpus"] = res.cpuset
    if cpu:
        out["cpu"] = cpu
    if res.pids_limit:
        out["pids"] = {"limit": res.pids_limit}
    if (res.blkio_weight or res.blkio_weight_device) and not host.blkio_weight:
        # docker's answer too: warn and discard the weight, keep the throttles
        log.warning("this kernel does not support block I/O weight: weight discarded")
        res = dataclasses.replace(res, blkio_weight=None, blkio_weight_device=())
    block_io = oci_block_io(res)
    if block_io:
        out["blockIO"] = block_io
    return out


# docker's default device cgroup rules (docker's deny-all plus the list runc appends): deny all,
# then mknod of anything, null zero full random urandom tty console ptmx, pts, tun. Not
# /dev/fuse (docker needs --device /dev/fuse for it), no block device.
_DEFAULT_DEVICES = (
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"), ("c", 1, 8, "rwm"),
    ("c", 1, 9, "rwm"), ("c", 5, 0, "rwm"), ("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"),
    ("c", 136, None, "rwm"), ("c", 10, 200, "rwm"),
)


def device_rules(privileged: bool) -> list[dict[str, Any]]:
    """OCI ``linux.resources.devices``: everything when privileged, docker's list otherwise."""
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    rules: list[dict[str, Any]] = [{"allow": False, "access": "rwm"}]
    for kind, major, minor, access in _DEFAULT_DEVICES:
        rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major is not None:
            rule["major"] = major
        if minor is not None:
            rule["minor"] = minor
        rules.append(rule)
    return rules


def _sysctls(spec: ContainerSpec) -> dict[str, str]:
    for key in spec.sysctls:
        namespaced = key in _NS_SYSCTL_KEYS or key.startswith(_NS_SYSCTL_PREFIXES)
        if not namespaced:
            raise EngineError(f"sysctl {key!r} is not namespaced and cannot be set per container",
                              step="create", obj=spec.name)
        if key.startswith("net.") and spec.network_mode is NetworkMode.HOST and \
                not spec.netns_path:
            raise EngineError(f"sysctl {key!r} cannot be set with network_mode host",
                              step="create", obj=spec.name)
    return dict(spec.sysctls)


def signal_number(name: str | int) -> int:
    """``SIGTERM`` / ``TERM`` / ``15`` → 15."""
    if isinstance(name, int) or str(name).isdigit():
        return int(name)
    upper = str(name).upper()
    upper = upper if upper.startswith("SIG") else "SIG" + upper
    try:
        return int(signal.Signals[upper])
    except KeyError:
        raise EngineError(f"unknown signal {name!r}", step="signal", obj=str(name)) from None
