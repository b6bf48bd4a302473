"""Value objects of the containers package: what a container should be, and what it is.

Callers (the orchestrator, the image builder) build a :class:`ContainerSpec`; the engine turns it
into an OCI bundle and a running process, and reports back :class:`ContainerInfo` rows.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class MountType(enum.Enum):
    """Kinds of mounts a spec can ask for (named volumes arrive as binds of their data dir)."""

    BIND = "bind"
    TMPFS = "tmpfs"
    VOLUME = "volume"
    IMAGE = "image"  # an image's layers (``lower``, lowest first), always read-only


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount inside the container.

    ``volume`` mounts are bind mounts of the volume's data directory (``source``).
    ``propagation`` is one of private, rprivate, shared, rshared, slave, rslave (default
    rprivate, like docker). ``create_host_path`` creates a missing bind source directory (the
    compose short syntax does that; the long syntax does not).
    """

    type: MountType
    target: str
    source: str = ""
    read_only: bool = False
    propagation: str = "rprivate"
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None
    create_host_path: bool = False
    lower: tuple[str, ...] = ()  # IMAGE: the directories to stack, lowest first


@dataclass(frozen=True, slots=True)
class Resources:
    """cgroup limits, in docker's units (bytes, CPUs as a float, relative shares)."""

    memory: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None  # total memory+swap; -1 = unlimited (docker semantics)
    cpus: float | None = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None
    oom_score_adj: int | None = None
    # block I/O (compose blkio_config): weight 10..1000, and per device path (weight or rate)
    blkio_weight: int | None = None
    blkio_weight_device: tuple[tuple[str, int], ...] = ()
    device_read_bps: tuple[tuple[str, int], ...] = ()
    device_write_bps: tuple[tuple[str, int], ...] = ()
    device_read_iops: tuple[tuple[str, int], ...] = ()
    device_write_iops: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceMapping:
    """A host device (or a directory of them) given to the container (docker ``--device``)."""

    source: str
    target: str
    permissions: str = "rwm"


class NetworkMode(enum.Enum):
    """How the container gets its network namespace when no ``netns_path`` is given."""

    NONE = "none"  # a new, empty network namespace (only lo)
    HOST = "host"  # no network namespace: the host's


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """Everything needed to create one container. Exactly one of ``layers`` and ``rootfs``.

    ``layers`` are unpacked image layer directories, lowest first (they become OverlayFS lower
    dirs); ``rootfs`` is a plain directory bind-mounted as the root (tests, ``FROM scratch``).
    ``argv`` is entrypoint + command, already merged. ``user`` is ``uid[:gid]`` or names resolved
    in the image's /etc/passwd and /etc/group. ``netns_path`` (a netns bind mount made by the
    networks package) wins over ``network_mode``. Per-container resolv.conf/hosts/hostname files
    come in as bind mounts in ``mounts``.
    """

    name: str
    argv: tuple[str, ...]
    layers: tuple[Path, ...] = ()
    rootfs: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)
    env: tuple[str, ...] = ()
    working_dir: str = ""
    user: str = ""
    group_add: tuple[str, ...] = ()
    hostname: str = ""
    domainname: str = ""
    mounts: tuple[Mount, ...] = ()
    read_only: bool = False
    privileged: bool = False
    # docker's defaults: no_new_privs only when asked (security_opt no-new-privileges), so
    # setuid programs (su, ping, sudo) work; seccomp "default" (docker's semantics) or
    # "unconfined" (no filter, like security_opt seccomp=unconfined)
    no_new_privileges: bool = False
    seccomp: str = "default"
    log_driver: str = "json-file"  # "none": the output is read and dropped, nothing stored
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    sysctls: dict[str, str] = field(default_factory=dict)
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    init: bool = False
    shm_size: int | None = None
    stop_signal: str = "SIGTERM"
    stop_grace_period: float = 10.0
    resources: Resources = field(default_factory=Resources)
    netns_path: str | None = None
    network_mode: NetworkMode = NetworkMode.NONE
    ipc_mode: str = "private"  # private | host | container:<id or name> | /path/to/ns
    pid_mode: str = "private"  # private | host | container:<id or name> | /path/to/ns
    tty: bool = False
    stdin_open: bool = False
    devices: tuple[DeviceMapping, ...] = ()

    def __hash__(self) -> int:  # dict fields make the generated hash fail; identity is the name
        return hash(self.name)


class State(enum.Enum):
    """Lifecycle states of a container (docker's names)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    EXITED = "exited"
    REMOVING = "removing"
    DEAD = "dead"  # a remove failed half-way; only delete(force) helps


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a container's main process ended (docker codes: 126, 127, 128+N)."""

    code: int
    oom_killed: bool = False
    error: str = ""


@dataclass(frozen=True, slots=True)
class ContainerInfo:
    """One container as the engine knows it (``inspect``)."""

    id: str
    name: str
    state: State
    labels: dict[str, str]
    created_at: str
    pid: int = 0
    exit_code: int | None = None
    oom_killed: bool = False
    error: str = ""
    started_at: str = ""
    finished_at: str = ""
    restart_count: int = 0
    runtime: str = ""
    spec: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def short_id(self) -> str:
        """The 12-character id."""
        return self.id[:12]


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of container output. ``time`` is RFC 3339 with nanoseconds, UTC."""

    time: str
    stream: str  # "stdout" | "stderr"
    text: str


@dataclass(frozen=True, slots=True)
class Stats:
    """A resource usage sample of one container."""

    cpu_usage_ns: int
    memory_usage: int
    memory_limit: int | None
    pids_current: int
    pids_limit: int | None
    block_read: int = 0   # bytes read from block devices (io.stat / blkio)
    block_write: int = 0


@dataclass(frozen=True, slots=True)
class Process:
    """One row of ``top``: a process inside the container, as seen from the host."""

    pid: int
    ppid: int
    uid: int
    command: str
