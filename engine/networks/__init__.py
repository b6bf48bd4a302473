"""Networks: bridges, IPAM, veth endpoints in container sandboxes, firewall, embedded DNS.

Public API (everything the orchestrator needs; nothing else in this package is public):

- networks:   ``create_network(NetworkSpec) -> NetworkInfo``, ``remove_network``,
              ``inspect_network``, ``list_networks(labels)``, ``network_exists``
- sandboxes:  ``create_sandbox(container_id) -> Path`` (netns the runtime joins by path),
              ``remove_sandbox``
- endpoints:  ``connect(container_id, network, EndpointSpec) -> EndpointInfo``, ``disconnect``,
              ``set_endpoint_active(container_id, bool)`` (DNS names follow start/stop),
              ``endpoints(container_id)``
- ports:      ``publish_ports(container_id, [PortBinding]) -> [PortBinding]``,
              ``unpublish_ports``, ``published_ports``
- files:      ``write_resolv_conf``, ``write_hosts``
- teardown:   ``sweep()`` (undo work of crashed processes), ``cleanup_all()``
"""
from __future__ import annotations

from engine.networks.model import (
    EndpointInfo,
    EndpointSpec,
    IpamConfig,
    IpamSpec,
    NetworkError,
    NetworkInfo,
    NetworkSpec,
    PortBinding,
)
from engine.networks.network import (
    create_network,
    inspect_network,
    list_networks,
    network_exists,
    remove_network,
)
from engine.networks.ports import publish_ports, published_ports, unpublish_ports
from engine.networks.resolvconf import EMBEDDED_DNS, write_hosts, write_resolv_conf
from engine.networks.sandbox import (
    connect,
    create_sandbox,
    disconnect,
    endpoints,
    remove_sandbox,
    sandbox_path,
    set_endpoint_active,
)
from engine.networks.sweep import cleanup_all, sweep

__all__ = [
    "EMBEDDED_DNS", "EndpointInfo", "EndpointSpec", "IpamConfig", "IpamSpec", "NetworkError",
    "NetworkInfo", "NetworkSpec", "PortBinding", "cleanup_all", "connect", "create_network",
    "create_sandbox", "disconnect", "endpoints", "inspect_network", "list_networks",
    "network_exists", "publish_ports", "published_ports", "remove_network", "remove_sandbox",
    "sandbox_path", "set_endpoint_active", "sweep", "unpublish_ports", "write_hosts",
    "write_resolv_conf",
]
