"""Value objects of the networks package: specs in, infos out (no kernel, no store)."""
from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.errors import EngineError

MTU_OPT = "com.docker.network.driver.mtu"
BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
MASQUERADE_OPT = "com.docker.network.bridge.enable_ip_masquerade"
ICC_OPT = "com.docker.network.bridge.enable_icc"
HOST_BINDING_OPT = "com.docker.network.bridge.host_binding_ipv4"
KNOWN_DRIVER_OPTS = frozenset({MTU_OPT, BRIDGE_NAME_OPT, MASQUERADE_OPT, ICC_OPT, HOST_BINDING_OPT})


class NetworkError(EngineError):
    """A network, endpoint, port or DNS operation failed."""


class Protocol(enum.Enum):
    TCP = "tcp"
    UDP = "udp"


@dataclass(frozen=True, slots=True)
class IpamConfig:
    """One ``ipam.config`` entry; every field optional (the pool picks a subnet)."""

    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IpamSpec:
    """A network's address management: its driver and pools."""
    driver: str = "default"
    configs: tuple[IpamConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """What to create. ``name`` is the real name (``myproj_default``), not the compose key."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    driver: str = "bridge"
    internal: bool = False
    enable_ipv4: bool = True
    enable_ipv6: bool = False
    attachable: bool = False
    ipam: IpamSpec = field(default_factory=IpamSpec)
    driver_opts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """A network, as recorded."""
    id: str
    name: str
    bridge: str
    spec: NetworkSpec
    subnet4: str | None
    gateway4: str | None
    subnet6: str | None
    gateway6: str | None
    mtu: int
    created: float


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """How a container joins one network.

    ``dns_names`` are the names the embedded DNS answers for this endpoint on this network
    (container name FIRST -- it is the PTR answer --, then service name, hostname ...);
    ``aliases`` are the per-network aliases. Both are answered the same way.
    """

    aliases: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    mac_address: str | None = None
    gw_priority: int = 0
    interface_name: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    """A container's attachment to a network, as recorded."""
    container_id: str
    network_id: str
    network_name: str
    ifname: str
    host_ifname: str
    ipv4: str | None
    ipv6: str | None
    mac: str
    prefix4: int | None = None
    prefix6: int | None = None
    gateway4: str | None = None
    gateway6: str | None = None
    aliases: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PortBinding:
    """One published port. ``host_port`` 0 means "pick an ephemeral port"; ``host_ip`` "" or
    "0.0.0.0" means every host address. Ranges are expanded by the caller into one binding each.
    """

    container_port: int
    host_port: int = 0
    host_ip: str = ""
    protocol: str = "tcp"

    def __post_init__(self) -> None:
        if self.protocol not in ("tcp", "udp"):
            raise NetworkError(f"unsupported protocol {self.protocol!r} (tcp or udp)",
                               step="publish port", obj=str(self.container_port))
        for port in (self.container_port, self.host_port):
            if not 0 <= port <= 65535:
                raise NetworkError(f"port {port} out of range", step="publish port")
