"""Semantic checks on top-level networks, volumes, secrets and configs, and static addresses.

Part of :func:`compose.config.semantics.check_semantics`; problems carry absolute key paths.
"""
from __future__ import annotations

from collections.abc import Iterator

from compose.config.positions import KeyPath
from compose.config.walk import entries, get_in, has_interpolation

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    import ipaddress
    from typing import Any

    IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# (ipaddress, ~1 ms to import, loads when a file has an address or a subnet to check)
Problem = tuple[KeyPath, str]

# Keys that describe how to create a resource, so they make no sense on an external one.
_CREATION_KEYS = {
    "networks": ("driver", "driver_opts", "ipam", "internal", "attachable", "enable_ipv4",
                 "enable_ipv6", "labels"),
    "volumes": ("driver", "driver_opts", "labels"),
    "secrets": ("file", "environment", "driver", "driver_opts", "template_driver", "labels"),
    "configs": ("file", "environment", "content", "template_driver", "labels"),
}
_SOURCES = {"secrets": ("file", "environment", "driver"),
            "configs": ("file", "environment", "content")}


def check_resources(project: dict) -> Iterator[Problem]:
    """External resources with creation keys, secrets/configs without a source, bad IPAM."""
    for kind, creation_keys in _CREATION_KEYS.items():
        for name, spec in entries(project.get(kind)):
            if not isinstance(spec, dict):
                continue
            if _is_true(spec.get("external")):
                for key in creation_keys:
                    if key in spec:
                        yield (kind, name, key), (
                            f"{kind[:-1]} {name!r} is external, so {key!r} cannot be set")
            elif kind in _SOURCES and not any(spec.get(k) for k in _SOURCES[kind]):
                yield (kind, name), (
                    f"{kind[:-1]} {name!r} needs one of {', '.join(_SOURCES[kind][:-1])} "
                    f"or {_SOURCES[kind][-1]}, or external: true")
    for name, spec in entries(project.get("networks")):
        yield from _check_ipam(str(name), spec)


def _is_true(value: Any) -> bool:
    if isinstance(value, dict):
        return True  # legacy external: {name: ...}
    return value is True or str(value).lower() == "true"


def _check_ipam(name: str, spec: Any) -> Iterator[Problem]:
    for index, pool in entries(get_in(spec, ("ipam", "config"))):
        if not isinstance(pool, dict):
            continue
        base: KeyPath = ("networks", name, "ipam", "config", index)
        subnet = _network(pool.get("subnet"))
        if isinstance(subnet, str):
            yield base + ("subnet",), subnet
            continue
        ip_range = _network(pool.get("ip_range"))
        if isinstance(ip_range, str):
            yield base + ("ip_range",), ip_range
        elif ip_range is not None and subnet is not None and not _within(ip_range, subnet):
            yield base + ("ip_range",), f"ip_range {ip_range} is not inside subnet {subnet}"
        gateway = pool.get("gateway")
        problem = _address_problem(gateway, subnet) if gateway is not None else None
        if problem:
            yield base + ("gateway",), f"gateway {problem}"


def _network(value: Any) -> IPNetwork | str | None:
    """The parsed CIDR, None when unset or uninterpolated, or a problem sentence."""
    if value is None or has_interpolation(value):
        return None
    import ipaddress

    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        return f"{value!r} is not a subnet in CIDR form such as 10.20.0.0/24"


def _within(inner: IPNetwork, outer: IPNetwork) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def _address_problem(value: Any, subnet: IPNetwork | None) -> str | None:
    if has_interpolation(value):
        return None
    import ipaddress

    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        return f"{value!r} is not an IP address"
    if subnet is not None and address.version == subnet.version and address not in subnet:
        return f"{address} is not inside subnet {subnet}"
    return None


def check_static_addresses(project: dict, service: str, svc: dict) -> Iterator[Problem]:
    """ipv4_address/ipv6_address must parse, fit the family and sit in a configured subnet."""
    for net_name, attach in entries(svc.get("networks")):
        if not isinstance(attach, dict):
            continue
        network = get_in(project, ("networks", net_name)) or {}
        subnets = [s for s in (_network(get_in(p, ("subnet",))) for _, p in
                               entries(get_in(network, ("ipam", "config"))))
                   if not isinstance(s, str | type(None))]
        external = isinstance(network, dict) and _is_true(network.get("external"))
        for key, version in (("ipv4_address", 4), ("ipv6_address", 6)):
            value = attach.get(key)
            if value is None or has_interpolation(value):
                continue
            problem = _static_problem(value, version, subnets, external)
            if problem:
                yield ("networks", net_name, key), problem


def _static_problem(value: Any, version: int, subnets: list[Any], external: bool) -> str | None:
    import ipaddress

    try:
        address = ipaddress.ip_address(str(value))
    except ValueError:
        return f"{value!r} is not an IPv{version} address"
    if address.version != version:
        return f"{address} is not an IPv{version} address"
    if external:
        return None
    family = [s for s in subnets if s.version == version]
    if not family:
        return (f"a static address needs a network with a configured IPv{version} subnet "
                "(ipam.config[].subnet)")
    if not any(address in s for s in family):
        return f"{address} is not inside the network's subnets {', '.join(map(str, family))}"
    return None
