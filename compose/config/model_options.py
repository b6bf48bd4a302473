"""The model's optional sections: the classes a project needs only when its files use the
key (long-syntax mount options, ``build``, ``ulimits``, ``logging``, hooks, ``deploy``,
``devices``, secrets and configs, IPAM). :mod:`compose.config.model` exports them too, and
imports this module when one is first asked for: a frozen slotted dataclass costs ~0.1 ms to
define, these ~1.5 ms of every command that loads a file without them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True, slots=True)
class BindOptions:
    """A bind mount's ``bind:`` options."""
    propagation: str | None = None
    create_host_path: bool = True
    selinux: str | None = None
    recursive: str | None = None


@dataclass(frozen=True, slots=True)
class VolumeOptions:
    """A volume mount's ``volume:`` options."""
    nocopy: bool = False
    subpath: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TmpfsOptions:
    """A tmpfs mount's ``tmpfs:`` options."""
    size: int | None = None  # bytes
    mode: int | None = None  # permission bits


@dataclass(frozen=True, slots=True)
class Ulimit:
    """One resource limit of ``ulimits``."""
    soft: int
    hard: int


@dataclass(frozen=True, slots=True)
class Logging:
    """A service's ``logging`` driver and its options."""
    driver: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BuildConfig:
    """``build:``; ``context`` is absolute for local paths (it may not exist: that only fails
    at build time), or a URL kept as written."""

    context: str
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: Mapping[str, str | None] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    network: str | None = None
    shm_size: int | None = None
    extra_hosts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    tags: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    additional_contexts: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[ServiceFileRef, ...] = ()
    ulimits: Mapping[str, Ulimit] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Hook:
    """A ``post_start``/``pre_stop`` command, run in the service's container like an exec."""

    command: tuple[str, ...]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """``deploy.resources.limits`` or ``reservations``."""
    cpus: float | None = None
    memory: int | None = None  # bytes
    pids: int | None = None
    devices: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """``deploy.restart_policy``."""
    condition: str | None = None  # none | on-failure | any
    delay: float | None = None
    max_attempts: int | None = None
    window: float | None = None


@dataclass(frozen=True, slots=True)
class Deploy:
    """A service's ``deploy`` section."""
    mode: str | None = None
    replicas: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    limits: ResourceSpec | None = None
    reservations: ResourceSpec | None = None
    restart_policy: RestartPolicy | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceFileRef:
    """A service's use of a top-level secret or config (long syntax)."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """One entry of a service's ``devices``."""
    source: str
    target: str
    permissions: str = "rwm"


@dataclass(frozen=True, slots=True)
class IpamPool:
    """One address pool of a network's ``ipam.config``."""
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Ipam:
    """A network's ``ipam`` section."""
    driver: str | None = None
    config: tuple[IpamPool, ...] = ()
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FileObject:
    """A top-level secret or config: from ``file`` (absolute), ``environment`` or ``content``."""

    key: str
    name: str
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    driver: str | None = None
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    template_driver: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
