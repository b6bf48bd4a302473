"""OCI bundle -> ``InitPlan``: everything the container init needs, parsed and checked up front.

Parsing happens in the parent, before any fork, so a bad config.json is a clean EngineError and
the forked child only executes a plan. Rlimits are clamped here (the parent can log the warning).
"""
from __future__ import annotations

import json
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.naming import CGROUP_PARENT
from engine.runtime import capabilities
from engine.runtime import syscalls as sc

log = logging.getLogger(__name__)

NS_FLAGS = {"pid": sc.CLONE_NEWPID, "network": sc.CLONE_NEWNET, "mount": sc.CLONE_NEWNS,
            "ipc": sc.CLONE_NEWIPC, "uts": sc.CLONE_NEWUTS, "user": sc.CLONE_NEWUSER,
            "cgroup": sc.CLONE_NEWCGROUP}
# /proc/<pid>/ns/<name> for each OCI namespace type; user first so later joins are permitted.
NS_PROC_NAMES = {"user": "user", "ipc": "ipc", "uts": "uts", "network": "net", "pid": "pid",
                 "mount": "mnt", "cgroup": "cgroup"}

_FLAG_OPTS = {
    "ro": (sc.MS_RDONLY, True), "rw": (sc.MS_RDONLY, False),
    "nosuid": (sc.MS_NOSUID, True), "suid": (sc.MS_NOSUID, False),
    "nodev": (sc.MS_NODEV, True), "dev": (sc.MS_NODEV, False),
    "noexec": (sc.MS_NOEXEC, True), "exec": (sc.MS_NOEXEC, False),
    "sync": (sc.MS_SYNCHRONOUS, True), "async": (sc.MS_SYNCHRONOUS, False),
    "dirsync": (sc.MS_DIRSYNC, True), "remount": (sc.MS_REMOUNT, True),
    "mand": (sc.MS_MANDLOCK, True), "nomand": (sc.MS_MANDLOCK, False),
    "atime": (sc.MS_NOATIME, False), "noatime": (sc.MS_NOATIME, True),
    "diratime": (sc.MS_NODIRATIME, False), "nodiratime": (sc.MS_NODIRATIME, True),
    "relatime": (sc.MS_RELATIME, True), "norelatime": (sc.MS_RELATIME, False),
    "strictatime": (sc.MS_STRICTATIME, True), "nosymfollow": (sc.MS_NOSYMFOLLOW, True),
    "bind": (sc.MS_BIND, True), "rbind": (sc.MS_BIND | sc.MS_REC, True),
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}


@dataclass(frozen=True, slots=True)
class MountSpec:
    """One entry of config.json ``mounts`` with its options decoded."""

    destination: str
    source: str
    type: str
    flags: int
    propagation: tuple[int, ...]
    data: str

    @property
    def is_bind(self) -> bool:
        """True for bind mounts (type "bind" or a bind/rbind option)."""
        return bool(self.flags & sc.MS_BIND) or self.type == "bind"


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A device node to create in /dev (OCI ``linux.devices``)."""

    path: str
    type: str
    major: int
    minor: int
    mode: int = 0o666
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Capability masks; ``None`` as a whole means "leave the process's capabilities alone"."""

    bounding: int
    effective: int
    permitted: int
    inheritable: int
    ambient: int


@dataclass(frozen=True, slots=True)
class ProcessPlan:
    """The OCI ``process`` object, decoded (used by create and by exec)."""

    args: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    umask: int | None = None
    terminal: bool = False
    no_new_privileges: bool = False
    capabilities: Capabilities | None = None
    rlimits: tuple[tuple[int, int, int], ...] = ()
    oom_score_adj: int | None = None
    console_size: tuple[int, int] | None = None  # (rows, columns)


@dataclass(frozen=True, slots=True)
class InitPlan:
    """Everything the container init does, in data form."""

    rootfs: str
    process: ProcessPlan
    namespaces: tuple[tuple[str, str | None], ...] = ()
    uid_mappings: tuple[dict[str, int], ...] = ()
    gid_mappings: tuple[dict[str, int], ...] = ()
    rootfs_propagation: int = sc.MS_SLAVE | sc.MS_REC
    readonly_root: bool = False
    mounts: tuple[MountSpec, ...] = ()
    devices: tuple[DeviceSpec, ...] = ()
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    hostname: str | None = None
    domainname: str | None = None
    sysctl: dict[str, str] = field(default_factory=dict)
    seccomp: dict[str, Any] | None = None
    cgroup_path: str = ""
    resources: dict[str, Any] = field(default_factory=dict)
    hooks: dict[str, Any] = field(default_factory=dict)

    def new_user_ns(self) -> bool:
        """True when the container gets a user namespace of its own."""
        return any(k == "user" and p is None for k, p in self.namespaces)

    def has_ns(self, kind: str) -> bool:
        """True when the config lists namespace ``kind`` (new or joined)."""
        return any(k == kind for k, _ in self.namespaces)

    def new_ns_flags(self) -> int:
        """unshare() flags for the namespaces to create (those without a path), minus user."""
        flags = 0
        for kind, path in self.namespaces:
            if path is None and kind != "user":
                flags |= NS_FLAGS[kind]
        return flags


def load_config(bundle: Path) -> dict[str, Any]:
    """Read and minimally validate ``<bundle>/config.json``."""
    path = bundle / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError as e:
        raise EngineError("no config.json in bundle", step="load bundle", obj=str(bundle)) from e
    except (OSError, ValueError) as e:
        raise EngineError(f"cannot read config.json: {e}", step="load bundle",
                          obj=str(path)) from e
    if not isinstance(config, dict) or not (config.get("process") or {}).get("args"):
        raise EngineError("config.json needs process.args", step="load bundle", obj=str(path))
    if not (config.get("root") or {}).get("path"):
        raise EngineError("config.json needs root.path", step="load bundle", obj=str(path))
    return config


def parse_mount(m: dict[str, Any]) -> MountSpec:
    """Decode one OCI mount entry (flags vs. propagation vs. filesystem data)."""
    flags, props, data = 0, [], []
    for opt in m.get("options") or ():
        if opt in _FLAG_OPTS:
            bit, on = _FLAG_OPTS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt in _PROPAGATION:
            props.append(_PROPAGATION[opt])
        else:
            data.append(opt)
    if m.get("type") == "bind":
        flags |= sc.MS_BIND
    return MountSpec(destination=m["destination"], source=m.get("source") or "",
                     type=m.get("type") or "", flags=flags, propagation=tuple(props),
                     data=",".join(data))


def parse_capabilities(caps: dict[str, Any] | None) -> Capabilities | None:
    """Decode ``process.capabilities`` into masks."""
    if caps is None:
        return None
    def m(key: str) -> int:
        return capabilities.mask(caps.get(key) or ())
    return Capabilities(bounding=m("bounding"), effective=m("effective"),
                        permitted=m("permitted"), inheritable=m("inheritable"),
                        ambient=m("ambient"))


def clamp_rlimits(rlimits: list[dict[str, Any]],
                  getrlimit: Callable[[int], tuple[int, int]] = resource.getrlimit,
                  ) -> tuple[tuple[int, int, int], ...]:
    """Resolve ``process.rlimits``; never ask above the host's hard limit (warn and clamp)."""
    out = []
    for rl in rlimits:
        name = rl["type"]
        res = getattr(resource, name, None)
        if not isinstance(res, int):
            raise EngineError(f"unknown rlimit {name}", step="rlimits", obj=name)
        _, host_hard = getrlimit(res)
        soft, hard = int(rl.get("soft", 0)), int(rl.get("hard", 0))
        if host_hard != resource.RLIM_INFINITY and (hard > host_hard or hard < 0):
            log.warning("rlimit %s hard %d is above the host's hard limit %d; clamped",
                        name, hard, host_hard)
            hard = host_hard
        out.append((res, min(soft, hard) if hard >= 0 else soft, hard))
    return tuple(out)


def parse_process(proc: dict[str, Any]) -> ProcessPlan:
    """Decode an OCI process object (config.json ``process`` or an exec process)."""
    user = proc.get("user") or {}
    env = {}
    for item in proc.get("env") or ():
        key, _, value = item.partition("=")
        env[key] = value
    return ProcessPlan(
        args=tuple(proc["args"]), env=env, cwd=proc.get("cwd") or "/",
        uid=int(user.get("uid", 0)), gid=int(user.get("gid", 0)),
        additional_gids=tuple(int(g) for g in user.get("additionalGids") or ()),
        umask=user.get("umask"), terminal=bool(proc.get("terminal")),
        no_new_privileges=bool(proc.get("noNewPrivileges")),
        capabilities=parse_capabilities(proc.get("capabilities")),
        rlimits=clamp_rlimits(proc.get("rlimits") or []),
        oom_score_adj=proc.get("oomScoreAdj"),
        console_size=(int(proc["consoleSize"].get("height", 0)),
                      int(proc["consoleSize"].get("width", 0)))
        if proc.get("consoleSize") else None,
    )


def exec_process(config: dict[str, Any], process: dict[str, Any], tty: bool) -> dict[str, Any]:
    """The process object for an exec: what the caller gives, the container's process for the
    rest, so an exec never holds more privilege (capabilities, no_new_privs, rlimits) than the
    container when the caller leaves a key out."""
    base = {k: v for k, v in (config.get("process") or {}).items()
            if k not in ("args", "terminal", "consoleSize")}
    return {**base, **process, "terminal": bool(tty or process.get("terminal"))}


def parse_device(d: dict[str, Any]) -> DeviceSpec:
    """Decode one ``linux.devices`` entry."""
    return DeviceSpec(path=d["path"], type=d.get("type", "c"), major=int(d.get("major", 0)),
                      minor=int(d.get("minor", 0)), mode=int(d.get("fileMode", 0o666)),
                      uid=int(d.get("uid", 0)), gid=int(d.get("gid", 0)))


def plan_from_config(config: dict[str, Any], bundle: Path, cid: str) -> InitPlan:
    """Build the InitPlan for container ``cid`` from a loaded config.json."""
    linux = config.get("linux") or {}
    root = Path(config["root"]["path"])
    rootfs = root if root.is_absolute() else bundle / root
    namespaces = []
    for ns in linux.get("namespaces") or ():
        if ns.get("type") not in NS_FLAGS:
            raise EngineError(f"unknown namespace type {ns.get('type')!r}",
                              step="namespaces", obj=cid)
        namespaces.append((ns["type"], ns.get("path") or None))
    namespaces.sort(key=lambda n: list(NS_PROC_NAMES).index(n[0]))
    propagation = linux.get("rootfsPropagation")
    return InitPlan(
        rootfs=str(rootfs.resolve()), process=parse_process(config["process"]),
        namespaces=tuple(namespaces),
        uid_mappings=tuple(linux.get("uidMappings") or ()),
        gid_mappings=tuple(linux.get("gidMappings") or ()),
        rootfs_propagation=_PROPAGATION[propagation] if propagation in _PROPAGATION
        else sc.MS_SLAVE | sc.MS_REC,
        readonly_root=bool(config["root"].get("readonly")),
        mounts=tuple(parse_mount(m) for m in config.get("mounts") or ()),
        devices=tuple(parse_device(d) for d in linux.get("devices") or ()),
        masked_paths=tuple(linux.get("maskedPaths") or ()),
        readonly_paths=tuple(linux.get("readonlyPaths") or ()),
        hostname=config.get("hostname"), domainname=config.get("domainname"),
        sysctl=dict(linux.get("sysctl") or {}), seccomp=linux.get("seccomp"),
        cgroup_path=(linux.get("cgroupsPath") or f"{CGROUP_PARENT}/{cid}").strip("/"),
        resources=dict(linux.get("resources") or {}),
        hooks=dict(config.get("hooks") or {}),
    )
