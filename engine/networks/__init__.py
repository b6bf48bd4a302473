"""Networks: bridges, IPAM, veth endpoints in container sandboxes, firewall, embedded DNS.

Public API (everything the orchestrator needs; nothing else in this package is public):

- networks:   ``create_network(NetworkSpec) -> NetworkInfo``, ``remove_network``,
              ``inspect_network``, ``list_networks(labels)``, ``network_exists``,
              ``restore_network`` (re-create a recorded bridge + rules, e.g. after a reboot)
- sandboxes:  ``create_sandbox(key, dns_servers=()) -> Path`` (netns the runtime joins by
              path; ``key`` is any unique id -- the container id usually does not exist yet),
              ``remove_sandbox``, ``sandbox_path``
- endpoints:  ``connect(key, network, EndpointSpec) -> EndpointInfo``, ``disconnect``,
              ``set_endpoint_active(key, bool)`` (DNS names follow start/stop: connect with
              ``EndpointSpec(active=False)`` at create, True at start, False at stop),
              ``endpoints(key)`` / ``endpoints(network=name)``
- ports:      ``publish_ports(container_id, [PortBinding]) -> [PortBinding]``,
              ``unpublish_ports``, ``published_ports``
- files:      ``write_resolv_conf`` (``use_embedded=True`` whenever the container has an
              endpoint), ``write_hosts`` (``host_gateway`` for ``extra_hosts: host-gateway``)
- default bridge: ``ensure_default_bridge()``, ``release_default_bridge()`` (docker's
              ``bridge``: network_mode bridge and build steps; removed when unused)
- teardown:   ``sweep()`` (undo work of crashed processes), ``cleanup_all()``,
              ``stop_idle_dns()`` (the DNS daemon, once no sandbox remains)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

# Imported lazily (PEP 562): python-iptables and pyroute2 take ~0.3 s to import, and the DNS
# daemon's entry point (engine.networks.dnsd) must start fast without them.
_EXPORTS = {
    "engine.networks.defaultbridge": ("DEFAULT_BRIDGE", "ensure_default_bridge",
                                      "release_default_bridge"),
    "engine.networks.model": ("EndpointInfo", "EndpointSpec", "IpamConfig", "IpamSpec",
                              "NetworkError", "NetworkInfo", "NetworkSpec", "PortBinding"),
    "engine.networks.network": ("create_network", "inspect_network", "list_networks",
                                "network_exists", "remove_network", "restore_network"),
    "engine.networks.ports": ("publish_ports", "unpublish_ports"),
    # the record alone: `ps` and `port` read it without loading the firewall
    "engine.networks.published": ("published_ports",),
    "engine.networks.resolvconf": ("EMBEDDED_DNS", "write_hosts", "write_resolv_conf"),
    "engine.networks.sandbox": ("connect", "create_sandbox", "disconnect", "endpoints",
                                "remove_sandbox", "sandbox_path", "set_endpoint_active"),
    "engine.networks.dns_control": ("stop_idle_dns",),
    "engine.networks.dellink": ("deferred_deletes",),
    "engine.networks.sweeper": ("cleanup_all", "sweep"),
}

if TYPE_CHECKING:
    from engine.networks.defaultbridge import (
        DEFAULT_BRIDGE,
        ensure_default_bridge,
        release_default_bridge,
    )
    from engine.networks.dellink import deferred_deletes
    from engine.networks.dns_control import stop_idle_dns
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
        restore_network,
    )
    from engine.networks.ports import publish_ports, unpublish_ports
    from engine.networks.published import published_ports
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
    from engine.networks.sweeper import cleanup_all, sweep


__getattr__ = lazy_exports(globals(), _EXPORTS)


__all__ = [
    "DEFAULT_BRIDGE", "ensure_default_bridge", "release_default_bridge",
    "EMBEDDED_DNS", "EndpointInfo", "EndpointSpec", "IpamConfig", "IpamSpec", "NetworkError",
    "NetworkInfo", "NetworkSpec", "PortBinding", "cleanup_all", "connect", "create_network",
    "create_sandbox", "deferred_deletes", "disconnect", "endpoints", "inspect_network",
    "list_networks",
    "network_exists", "publish_ports", "published_ports", "remove_network", "remove_sandbox",
    "restore_network",
    "sandbox_path", "set_endpoint_active", "stop_idle_dns", "sweep", "unpublish_ports",
    "write_hosts",
    "write_resolv_conf",
]
