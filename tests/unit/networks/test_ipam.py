from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.networks import ipam
from engine.networks.model import IpamConfig, NetworkError

net = ipaddress.ip_network
addr = ipaddress.ip_address


def test_default_pool_skips_host_routes_and_other_networks() -> None:
    taken = [net("172.16.0.0/20"), net("172.16.16.0/24"), net("192.0.2.0/24")]
    plan = ipam.plan_subnet(None, 4, taken)
    assert plan.subnet == net("172.16.32.0/20")
    assert plan.gateway == addr("172.16.32.1")


def test_default_route_does_not_block_everything() -> None:
    # host_route_networks drops 0.0.0.0/0 already, but a /1 route must still be respected
    with pytest.raises(NetworkError, match="exhausted"):
        ipam.pick_subnet(ipam.DEFAULT_POOLS4, [net("128.0.0.0/1")])


def test_ipv6_default_pool_is_ula_and_avoids_fd00_64() -> None:
    plan = ipam.plan_subnet(None, 6, [net("fd00::/64")])
    assert plan.subnet.prefixlen == 64 and plan.subnet.is_private
    assert not plan.subnet.overlaps(net("fd00::/64"))  # type: ignore[arg-type]


def test_explicit_subnet_overlapping_is_refused_with_the_clash_named() -> None:
    with pytest.raises(NetworkError, match="overlaps 192.0.2.0/24"):
        ipam.plan_subnet(IpamConfig(subnet="192.0.2.128/25"), 4, [net("192.0.2.0/24")])


def test_gateway_ip_range_and_aux_addresses() -> None:
    cfg = IpamConfig(subnet="10.213.5.0/24", ip_range="10.213.5.0/30", gateway="10.213.5.254",
                     aux_addresses={"router": "10.213.5.1"})
    plan = ipam.plan_subnet(cfg, 4, [])
    assert plan.gateway == addr("10.213.5.254")
    assert ipam.allocate_address(plan, []) == addr("10.213.5.2")  # .1 is aux, .0 network
    with pytest.raises(NetworkError, match="no free address"):
        ipam.allocate_address(plan, [addr("10.213.5.2"), addr("10.213.5.3")])


@pytest.mark.parametrize("cfg, msg", [
    (IpamConfig(subnet="10.213.5.0/24", ip_range="10.213.6.0/28"), "not inside subnet"),
    (IpamConfig(subnet="10.213.5.0/24", gateway="10.213.9.1"), "not inside subnet"),
    (IpamConfig(subnet="10.213.5.0/33"), "invalid subnet"),
])
def test_bad_configs(cfg: IpamConfig, msg: str) -> None:
    with pytest.raises(NetworkError, match=msg):
        ipam.plan_subnet(cfg, 4, [])


def test_static_address_checks() -> None:
    plan = ipam.plan_subnet(IpamConfig(subnet="10.213.5.0/24"), 4, [])
    assert ipam.check_static(plan, "10.213.5.9", []) == addr("10.213.5.9")
    for bad in ("10.213.5.1", "10.213.5.255", "10.213.5.0"):
        with pytest.raises(NetworkError):
            ipam.check_static(plan, bad, [])
    with pytest.raises(NetworkError, match="already in use"):
        ipam.check_static(plan, "10.213.5.9", [addr("10.213.5.9")])
    with pytest.raises(NetworkError, match="not inside"):
        ipam.check_static(plan, "10.1.1.1", [])


def test_split_configs_by_family() -> None:
    v4, v6 = IpamConfig(subnet="10.213.5.0/24"), IpamConfig(subnet="fd70::/64")
    assert ipam.split_configs([v6, v4]) == (v4, v6)
    with pytest.raises(NetworkError, match="more than one IPv4"):
        ipam.split_configs([v4, IpamConfig(subnet="10.213.6.0/24")])


def test_mac_from_ipv4_is_docker_style() -> None:
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"
    assert ipam.mac_for(None).startswith("02:42:")


@given(st.lists(st.integers(min_value=0, max_value=255), max_size=40))
def test_allocation_never_repeats_or_hits_reserved(used_octets: list[int]) -> None:
    plan = ipam.plan_subnet(IpamConfig(subnet="10.213.7.0/24"), 4, [])
    leased = [addr(f"10.213.7.{o}") for o in used_octets]
    got = ipam.allocate_address(plan, leased)
    assert got not in leased and got not in plan.reserved
    assert got in plan.subnet and got not in (plan.subnet.network_address,
                                              plan.subnet.broadcast_address)


def _lowest_free_by_objects(plan: ipam.SubnetPlan, leased: list[ipaddress.IPv4Address
                                                              | ipaddress.IPv6Address]) -> str:
    """The allocation rule spelled with address objects (what the integer walk must match):
    the range's hosts() (every address of a range of two or fewer), minus leases, reserved
    addresses and the subnet's network (and, IPv4 below /31, broadcast) address."""
    span = plan.ip_range
    candidates = iter(span) if span.num_addresses <= 2 else span.hosts()
    sub = plan.subnet
    unusable = ({sub.network_address, sub.broadcast_address}
                if sub.version == 4 and sub.prefixlen < 31 else {sub.network_address})
    for a in candidates:
        if a not in leased and a not in plan.reserved and a in sub and a not in unusable:
            return str(a)
    return "full"


@pytest.mark.parametrize("subnet, ip_range", [
    ("10.213.8.0/24", None), ("10.213.8.0/24", "10.213.8.128/28"),
    ("10.213.8.0/30", None), ("10.213.8.0/24", "10.213.8.6/31"),
    ("10.213.8.0/24", "10.213.8.7/32"), ("fd70:1::/64", None), ("fd70:1::/64", "fd70:1::/126"),
    ("fd70:1::/64", "fd70:1::/127"),
])
@given(st.lists(st.integers(min_value=0, max_value=20), max_size=12))
def test_allocation_by_integers_matches_the_address_rule(subnet: str, ip_range: str | None,
                                                       offsets: list[int]) -> None:
    plan = ipam.plan_subnet(IpamConfig(subnet=subnet, ip_range=ip_range), net(subnet).version,
                            [])
    start = net(ip_range or subnet).network_address
    leased = [start + o for o in offsets]
    try:
        got = str(ipam.allocate_address(plan, ipam.address_numbers(map(str, leased))))
    except NetworkError:
        got = "full"
    assert got == _lowest_free_by_objects(plan, leased)
