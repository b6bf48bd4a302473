"""Address management: choosing subnets and handing out addresses (pure; no kernel, no store).

Default IPv4 pools are /20s carved from 172.16.0.0/12, then 192.168.0.0/16 (docker's ranges, but
smaller blocks so many projects fit). Default IPv6 subnets are /64s of a fixed ULA /48. A subnet
is only handed out when it overlaps neither a route the host already has nor another network.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from engine.networks.model import IpamConfig, NetworkError

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_POOLS4: tuple[tuple[str, int], ...] = (("172.16.0.0/12", 20), ("192.168.0.0/16", 20))
DEFAULT_POOLS6: tuple[tuple[str, int], ...] = (("fd70:7963:6f6d::/48", 64),)


@dataclass(frozen=True, slots=True)
class SubnetPlan:
    """The resolved addressing of one address family of a network."""

    subnet: IPNetwork
    gateway: IPAddress
    ip_range: IPNetwork
    reserved: frozenset[IPAddress]


def overlaps(net: IPNetwork, taken: Iterable[IPNetwork]) -> IPNetwork | None:
    """Return the first network of ``taken`` that overlaps ``net`` (same family), else None."""
    for other in taken:
        if other.version == net.version and net.overlaps(other):  # type: ignore[arg-type]
            return other
    return None


def candidate_subnets(pools: Sequence[tuple[str, int]]) -> Iterator[IPNetwork]:
    """Yield every subnet of the pools in order."""
    for base, prefix in pools:
        yield from ipaddress.ip_network(base).subnets(new_prefix=prefix)


def pick_subnet(pools: Sequence[tuple[str, int]], taken: Sequence[IPNetwork]) -> IPNetwork:
    """Return the first pool subnet that overlaps nothing in ``taken``."""
    for net in candidate_subnets(pools):
        if overlaps(net, taken) is None:
            return net
    raise NetworkError("default address pools exhausted", step="allocate subnet")


def plan_subnet(config: IpamConfig | None, version: int,
                taken: Sequence[IPNetwork]) -> SubnetPlan:
    """Resolve one family's ``ipam.config`` entry (or the default pool) into a plan."""
    if config is not None and config.subnet:
        subnet = _parse_net(config.subnet, "subnet")
        clash = overlaps(subnet, taken)
        if clash is not None:
            raise NetworkError(f"subnet {subnet} overlaps {clash} already in use on this host",
                               step="allocate subnet", obj=str(subnet))
    else:
        subnet = pick_subnet(DEFAULT_POOLS4 if version == 4 else DEFAULT_POOLS6, taken)
    if subnet.version != version:
        raise NetworkError(f"subnet {subnet} is not IPv{version}", step="allocate subnet")
    ip_range = subnet
    if config is not None and config.ip_range:
        ip_range = _parse_net(config.ip_range, "ip_range")
        if not ip_range.subnet_of(subnet):  # type: ignore[arg-type]
            raise NetworkError(f"ip_range {ip_range} is not inside subnet {subnet}",
                               step="allocate subnet")
    gateway = _gateway(subnet, config)
    aux = config.aux_addresses.values() if config is not None else ()
    reserved = {gateway, *(_parse_addr(a, subnet, "aux_addresses") for a in aux)}
    return SubnetPlan(subnet, gateway, ip_range, frozenset(reserved))


def _gateway(subnet: IPNetwork, config: IpamConfig | None) -> IPAddress:
    if config is not None and config.gateway:
        return _parse_addr(config.gateway, subnet, "gateway")
    if subnet.num_addresses < 4:
        raise NetworkError(f"subnet {subnet} is too small", step="allocate subnet")
    return subnet.network_address + 1


def allocate_address(plan: SubnetPlan, leased: Iterable[IPAddress | int]) -> IPAddress:
    """Return the lowest free address of the plan's ip_range. ``leased`` may be given as
    integers (:func:`address_numbers`): a container's connect then parses no address object
    per lease (with 50 containers on a network that was most of the allocation's cost)."""
    used = {int(a) for a in leased} | {int(a) for a in plan.reserved}
    subnet, span = plan.subnet, plan.ip_range
    low, high = int(span.network_address), int(span.broadcast_address)
    if span.num_addresses > 2 and span.version == 4:
        low, high = low + 1, high - 1  # hosts(): not the range's network or broadcast address
    elif span.num_addresses > 2:
        low += 1  # (IPv6 hosts() leaves out the subnet-router anycast address only)
    first, last = int(subnet.network_address), int(subnet.broadcast_address)
    unusable = {first, last} if subnet.version == 4 and subnet.prefixlen < 31 else {first}
    for number in range(max(low, first), min(high, last) + 1):
        if number not in used and number not in unusable:
            return type(subnet.network_address)(number)
    raise NetworkError(f"no free address left in {plan.ip_range}", step="allocate address",
                       obj=str(plan.subnet))


def address_numbers(texts: Iterable[str]) -> set[int]:
    """The integers of textual IPv4/IPv6 addresses (what :func:`allocate_address` compares)."""
    out = set()
    for text in texts:
        family = socket.AF_INET6 if ":" in text else socket.AF_INET
        out.add(int.from_bytes(socket.inet_pton(family, text), "big"))
    return out


def check_static(plan: SubnetPlan, text: str, leased: Iterable[IPAddress | int]) -> IPAddress:
    """Validate a requested static address: inside the subnet, not reserved, not leased."""
    addr = _parse_addr(text, plan.subnet, "ipv4_address/ipv6_address")
    taken = int(addr) in {int(a) for a in leased}
    if addr in plan.reserved or taken or not _usable(addr, plan.subnet):
        raise NetworkError(f"address {addr} is already in use", step="allocate address",
                           obj=str(plan.subnet))
    return addr


def _usable(addr: IPAddress, subnet: IPNetwork) -> bool:
    if subnet.version == 4 and subnet.prefixlen < 31:
        return addr not in (subnet.network_address, subnet.broadcast_address)
    return addr != subnet.network_address


def _parse_net(text: str, what: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise NetworkError(f"invalid {what} {text!r}: {exc}", step="parse ipam") from None


def _parse_addr(text: str, subnet: IPNetwork, what: str) -> IPAddress:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError as exc:
        raise NetworkError(f"invalid {what} {text!r}: {exc}", step="parse ipam") from None
    if addr not in subnet:
        raise NetworkError(f"{what} {addr} is not inside subnet {subnet}", step="parse ipam")
    return addr


def mac_for(ipv4: str | None) -> str:
    """Docker-style MAC: 02:42 followed by the IPv4 address; random (locally administered)
    when the endpoint has no IPv4 address."""
    if ipv4:
        tail = ipaddress.IPv4Address(ipv4).packed
    else:
        tail = os.urandom(4)  # (what secrets.token_bytes does)
    return ":".join(f"{b:02x}" for b in (0x02, 0x42, *tail))


def split_configs(configs: Sequence[IpamConfig]) -> tuple[IpamConfig | None, IpamConfig | None]:
    """Return the (IPv4, IPv6) config entries; more than one per family is not supported."""
    found: dict[int, IpamConfig] = {}
    for config in configs:
        version = _config_version(config)
        if version in found:
            raise NetworkError(f"more than one IPv{version} ipam config is not supported",
                               step="parse ipam")
        found[version] = config
    return found.get(4), found.get(6)


def _config_version(config: IpamConfig) -> int:
    for text in (config.subnet, config.ip_range, config.gateway):
        if text:
            return ipaddress.ip_network(text, strict=False).version
    return 4
