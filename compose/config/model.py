"""The frozen, typed project model produced by the loader.

Everything past the loader works on these classes, never on raw dicts. Durations are float
seconds, sizes are int bytes, short syntaxes are expanded to their long forms. Every spec key a
service may carry is kept: the common ones as typed fields, and the whole normalized mapping in
``raw`` so that the orchestrator can reject keys the engine does not implement instead of the
loader silently dropping them.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.lazy import lazy_exports

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    from compose.config.develop import Develop  # (loaded when a service has `develop`)
    from compose.config.model_options import BindOptions as BindOptions
    from compose.config.model_options import BuildConfig as BuildConfig
    from compose.config.model_options import Deploy as Deploy
    from compose.config.model_options import Device as Device
    from compose.config.model_options import FileObject as FileObject
    from compose.config.model_options import Hook as Hook
    from compose.config.model_options import Ipam as Ipam
    from compose.config.model_options import IpamPool as IpamPool
    from compose.config.model_options import Logging as Logging
    from compose.config.model_options import ResourceSpec as ResourceSpec
    from compose.config.model_options import RestartPolicy as RestartPolicy
    from compose.config.model_options import ServiceFileRef as ServiceFileRef
    from compose.config.model_options import TmpfsOptions as TmpfsOptions
    from compose.config.model_options import Ulimit as Ulimit
    from compose.config.model_options import VolumeOptions as VolumeOptions
    from compose.config.support import Unsupported

# The optional sections' classes, defined when first asked for (see model_options).
__getattr__ = lazy_exports(globals(), {"compose.config.model_options": (
    "BindOptions", "BuildConfig", "Deploy", "Device", "FileObject", "Hook", "Ipam", "IpamPool",
    "Logging", "ResourceSpec", "RestartPolicy", "ServiceFileRef", "TmpfsOptions", "Ulimit",
    "VolumeOptions")})

EMPTY: Mapping[str, Any] = {}


@dataclass(frozen=True, slots=True)
class PortConfig:
    """One published or exposed port (long syntax; a short-syntax range yields several)."""

    target: int
    published: str | None = None  # a port or a range "8000-8010"; None = ephemeral
    host_ip: str | None = None
    protocol: str = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None


@dataclass(frozen=True, slots=True)
class VolumeMount:
    """A service mount: ``type`` is bind, volume, tmpfs, image, npipe or cluster."""

    type: str
    target: str
    source: str | None = None  # absolute host path (bind), volume key (volume), None (anonymous)
    read_only: bool = False
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image_subpath: str | None = None


@dataclass(frozen=True, slots=True)
class DependsOn:
    """One entry of a service's ``depends_on``: the condition to wait for."""
    condition: str = "service_started"  # service_started / _healthy / _completed_successfully
    restart: bool = False
    required: bool = True


@dataclass(frozen=True, slots=True)
class Healthcheck:
    """A service's ``healthcheck`` (durations in seconds)."""
    test: tuple[str, ...] | None = None  # ("CMD", ...), ("CMD-SHELL", "..."), ("NONE",)
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    start_interval: float | None = None
    disable: bool = False


@dataclass(frozen=True, slots=True)
class ServiceNetwork:
    """A service's attachment to one network."""

    aliases: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: tuple[str, ...] = ()
    mac_address: str | None = None
    interface_name: str | None = None
    priority: int = 0
    gw_priority: int = 0
    driver_opts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Service:
    """One service. ``raw`` is the normalized (canonical, long-syntax) mapping with every key."""

    name: str
    image: str | None = None
    build: BuildConfig | None = None
    command: tuple[str, ...] | None = None  # None: image default; () : explicitly empty
    entrypoint: tuple[str, ...] | None = None
    environment: Mapping[str, str | None] = field(default_factory=dict)  # env_file applied
    ports: tuple[PortConfig, ...] = ()
    expose: tuple[str, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    volumes_from: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ()
    depends_on: Mapping[str, DependsOn] = field(default_factory=dict)
    links: tuple[str, ...] = ()
    external_links: tuple[str, ...] = ()
    healthcheck: Healthcheck | None = None
    networks: Mapping[str, ServiceNetwork] = field(default_factory=dict)
    network_mode: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    container_name: str | None = None
    working_dir: str | None = None
    user: str | None = None
    restart: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    profiles: tuple[str, ...] = ()
    scale: int | None = None
    deploy: Deploy | None = None
    secrets: tuple[ServiceFileRef, ...] = ()
    configs: tuple[ServiceFileRef, ...] = ()
    ulimits: Mapping[str, Ulimit] = field(default_factory=dict)
    sysctls: Mapping[str, str] = field(default_factory=dict)
    extra_hosts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    devices: tuple[Device, ...] = ()
    privileged: bool = False
    read_only: bool = False
    init: bool | None = None
    tty: bool = False
    stdin_open: bool = False
    stop_signal: str | None = None
    stop_grace_period: float | None = None
    pid: str | None = None
    ipc: str | None = None
    uts: str | None = None
    userns_mode: str | None = None
    cgroup: str | None = None
    cgroup_parent: str | None = None
    group_add: tuple[str, ...] = ()
    mem_limit: int | None = None
    mem_reservation: int | None = None
    memswap_limit: int | None = None
    shm_size: int | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    pids_limit: int | None = None
    oom_score_adj: int | None = None
    pull_policy: str | None = None
    platform: str | None = None
    logging: Logging | None = None
    mac_address: str | None = None
    develop: Develop | None = None  # develop.watch rules (`watch`, `up --watch`)
    post_start: tuple[Hook, ...] = ()
    pre_stop: tuple[Hook, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    def replicas(self) -> int:
        """How many containers this service wants (``scale`` or ``deploy.replicas``, else 1)."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1

    def dependencies(self) -> tuple[str, ...]:
        """Services this one needs started first (depends_on, links, network_mode, ipc,
        volumes_from)."""
        names = dict.fromkeys(self.depends_on)
        for link in self.links:
            names.setdefault(link.split(":", 1)[0])
        for mode in (self.network_mode, self.ipc):
            if mode and mode.startswith("service:"):
                names.setdefault(mode.split(":", 1)[1])
        for ref in self.volumes_from:
            if not ref.startswith("container:"):
                names.setdefault(ref.split(":", 1)[0])
        return tuple(names)


@dataclass(frozen=True, slots=True)
class Network:
    """A top-level network; ``name`` is the real engine name (``<project>_<key>`` by default)."""

    key: str
    name: str
    driver: str | None = None
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    ipam: Ipam | None = None
    external: bool = False
    internal: bool = False
    attachable: bool = False
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Volume:
    """A top-level named volume; ``name`` is the real engine name."""

    key: str
    name: str
    driver: str | None = None
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    external: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project. ``services`` holds only the services enabled by the active profiles."""

    name: str
    working_dir: str
    services: Mapping[str, Service] = field(default_factory=dict)
    networks: Mapping[str, Network] = field(default_factory=dict)
    volumes: Mapping[str, Volume] = field(default_factory=dict)
    secrets: Mapping[str, FileObject] = field(default_factory=dict)
    configs: Mapping[str, FileObject] = field(default_factory=dict)
    environment: Mapping[str, str] = field(default_factory=dict)  # used for interpolation
    profiles: tuple[str, ...] = ()  # active profiles
    all_profiles: tuple[str, ...] = ()  # every profile named in the files
    disabled_services: tuple[str, ...] = ()
    compose_files: tuple[str, ...] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)  # top-level x-*
    raw: Mapping[str, Any] = field(default_factory=dict)  # canonical mapping (what `config` prints)
    # keys and values pycompose does not implement, located; commands that create containers
    # call require_supported() before doing anything
    unsupported: tuple[Unsupported, ...] = ()

    def require_supported(self, services: tuple[str, ...] | list[str],
                          section: str | None = None) -> None:
        """Raise ConfigError (file, line, key) for the first unsupported key or value used by
        ``services`` or at the top level; warn about keys without effect. ``section``
        (``build``) limits the check to that key of the services."""
        from compose.config.support import require_supported

        require_supported(self.unsupported, services, section)

    def service(self, name: str) -> Service:
        """Return the service named ``name``; KeyError if it is not enabled."""
        return self.services[name]

    def container_name(self, service: str, number: int) -> str:
        """Replica ``number`` (1-based): ``container_name`` or ``<project>-<svc>-<n>``."""
        svc = self.services[service]
        if svc.container_name:
            return svc.container_name
        return f"{self.name}-{service}-{number}"
