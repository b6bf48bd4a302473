"""IPAM (static addresses, ip_range, IPv6, MAC, MTU, overlap checks), internal networks,
network_mode none, several networks per container, and crash recovery."""
from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest

import engine.networks as N
from engine.errors import Conflict
from engine.naming import new_id
from engine.networks import firewall, link, state
from tests.integration.networks.conftest import (
    BUSYBOX,
    NetEnv,
    firewall_text,
    free_subnet,
    ns_run,
)

pytestmark = pytest.mark.root


def _ip(path: Path, *args: str) -> str:
    return ns_run(path, "ip", *args).stdout


def test_static_addresses_range_ipv6_mac_mtu(netenv: NetEnv) -> None:
    subnet = free_subnet()
    net4 = ipaddress.ip_network(subnet)
    ip_range = str(list(net4.subnets(new_prefix=28))[2])  # .32/28
    spec = N.NetworkSpec(
        name=f"t{new_id()[:6]}_ipam", enable_ipv6=True,
        driver_opts={"com.docker.network.driver.mtu": "1400"},
        ipam=N.IpamSpec(configs=(N.IpamConfig(subnet=subnet, ip_range=ip_range,
                                              gateway=str(net4[254])),
                                 N.IpamConfig(subnet="fd70:7963:6fb2::/64"))))
    net = N.create_network(spec)
    assert net.gateway4 == str(net4[254]) and net.mtu == 1400
    a, b = new_id(), new_id()
    pa, pb = N.create_sandbox(a), N.create_sandbox(b)
    static = str(net4[10])
    ea = N.connect(a, net.name, N.EndpointSpec(ipv4_address=static,
                                               ipv6_address="fd70:7963:6fb2::10",
                                               mac_address="02:11:22:33:44:55"))
    eb = N.connect(b, net.name)
    assert ea.ipv4 == static and ea.ipv6 == "fd70:7963:6fb2::10"
    assert ipaddress.ip_address(eb.ipv4) in ipaddress.ip_network(ip_range)
    shown = _ip(pa, "-o", "addr", "show", "eth0") + _ip(pa, "link", "show", "eth0")
    assert f"{static}/24" in shown and "fd70:7963:6fb2::10/64" in shown
    assert "02:11:22:33:44:55" in shown and "mtu 1400" in shown
    assert f"default via {net4[254]}" in _ip(pa, "route")
    ping = ns_run(pb, BUSYBOX, "ping", "-c", "1", "-W", "2", "fd70:7963:6fb2::10")
    assert ping.returncode == 0, ping.stdout
    with pytest.raises(N.NetworkError, match="already in use"):
        N.connect(_fresh_sandbox(), net.name, N.EndpointSpec(ipv4_address=static))


def _fresh_sandbox() -> str:
    cid = new_id()
    N.create_sandbox(cid)
    return cid


def test_subnet_overlapping_a_host_route_is_refused(netenv: NetEnv) -> None:
    host_net = next(n for n in link.host_route_networks() if n.version == 4)
    with pytest.raises(N.NetworkError, match="overlaps"):
        N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_bad", ipam=N.IpamSpec(
            configs=(N.IpamConfig(subnet=str(host_net)),))))
    assert not N.network_exists("bad")


def test_default_pool_avoids_routes_and_other_networks(netenv: NetEnv) -> None:
    first = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_p1"))
    second = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_p2"))
    s1, s2 = (ipaddress.ip_network(n.subnet4) for n in (first, second))  # type: ignore[arg-type]
    assert not s1.overlaps(s2)
    assert s1.subnet_of(ipaddress.ip_network("172.16.0.0/12"))
    with pytest.raises(Conflict):
        N.create_network(N.NetworkSpec(name=first.name))
    with pytest.raises(N.NetworkError, match="not supported"):
        N.create_network(N.NetworkSpec(name="x", driver="overlay"))
    with pytest.raises(N.NetworkError, match="unsupported driver_opts"):
        N.create_network(N.NetworkSpec(name="x", driver_opts={"foo": "1"}))


def test_internal_network_has_no_way_out(netenv: NetEnv) -> None:
    inner = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_in", internal=True,
                                           ipam=N.IpamSpec(configs=(N.IpamConfig(
                                               subnet=free_subnet()),))))
    outer = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_out", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    a, b, c = new_id(), new_id(), new_id()
    pa, pb, pc = (N.create_sandbox(x) for x in (a, b, c))
    ea = N.connect(a, inner.name, N.EndpointSpec(dns_names=("a",)))
    N.connect(b, inner.name, N.EndpointSpec(dns_names=("b",)))
    ec = N.connect(c, outer.name, N.EndpointSpec(dns_names=("c",)))
    assert "default" not in _ip(pa, "route")
    # peers on the internal network still talk
    assert ns_run(pb, BUSYBOX, "ping", "-c", "1", "-W", "2", ea.ipv4).returncode == 0  # type: ignore[arg-type]
    # nothing leaves it: even with a route to the outer network, forwarding is dropped
    subprocess.run(["nsenter", f"--net={pa}", "ip", "route", "add", outer.subnet4, "via",
                    inner.gateway4], check=True)  # type: ignore[list-item]
    assert ns_run(pa, BUSYBOX, "ping", "-c", "1", "-W", "1", ec.ipv4).returncode != 0  # type: ignore[arg-type]
    assert ns_run(pc, BUSYBOX, "ping", "-c", "1", "-W", "1", ea.ipv4).returncode != 0  # type: ignore[arg-type]
    rules, b = firewall_text(), inner.bridge
    if firewall.backend_name() == "nftables":
        assert f'iifname "{b}" oifname != "{b}" drop comment' in rules
        assert f"ip saddr {inner.subnet4}" not in rules  # no masquerade for internal
    else:
        assert any(line.startswith(f"-A PYCOMPOSE-FORWARD -i {b} ! -o {b} -m comment")
                   and line.endswith("-j DROP") for line in rules.splitlines())
        assert f"-s {inner.subnet4}" not in rules  # no masquerade for internal


def test_two_networks_per_container_and_disconnect(netenv: NetEnv) -> None:
    n1 = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_a", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    n2 = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_b", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    cid = new_id()
    path = N.create_sandbox(cid)
    e1 = N.connect(cid, n1.name)
    e2 = N.connect(cid, n2.name, N.EndpointSpec(gw_priority=10))
    assert (e1.ifname, e2.ifname) == ("eth0", "eth1")
    assert f"default via {n2.gateway4} dev eth1" in _ip(path, "route")
    with pytest.raises(Conflict):
        N.remove_network(n2.name)
    N.disconnect(cid, n2.name)
    assert f"default via {n1.gateway4} dev eth0" in _ip(path, "route")
    assert "eth1" not in _ip(path, "link")
    assert e2.host_ifname not in link.list_links("pcv")
    N.remove_network(n2.name)
    assert n2.bridge not in link.list_links("pcbr-")


def test_network_mode_none_sandbox_has_only_lo(netenv: NetEnv) -> None:
    cid = new_id()
    path = N.create_sandbox(cid)
    links = _ip(path, "-o", "link")
    assert "lo:" in links and "eth0" not in links and "UP" in links
    N.remove_sandbox(cid)
    assert not path.exists()


def test_sweep_removes_what_a_crashed_process_left(netenv: NetEnv) -> None:
    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_crash", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    cid = new_id()
    N.create_sandbox(cid)
    # a fresh interpreter (the store refuses forked children) that dies right after the veth
    # exists, before the endpoint is "ready"
    script = ("import os, sys; import engine.networks as N; from engine.networks import link;"
              " link.configure_peer = lambda *a, **k: os._exit(9);"
              " N.connect(sys.argv[1], sys.argv[2]); os._exit(1)")
    proc = subprocess.run([sys.executable, "-c", script, cid, net.name], timeout=60)
    assert proc.returncode == 9
    row = state.db().execute("SELECT host_ifname, state FROM net_endpoints").fetchone()
    assert row["state"] == state.CREATING and row["host_ifname"] in link.list_links("pcv")
    assert N.sweep() == 1
    assert row["host_ifname"] not in link.list_links("pcv")
    assert N.connect(cid, net.name).ifname == "eth0"  # and the address is free again


def test_static_address_needs_a_configured_subnet(netenv: NetEnv) -> None:
    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_dyn"))
    cid = new_id()
    N.create_sandbox(cid)
    with pytest.raises(N.NetworkError, match="configured ipam subnet"):
        N.connect(cid, net.name, N.EndpointSpec(ipv4_address=str(
            ipaddress.ip_network(net.subnet4)[5])))  # type: ignore[arg-type]
    assert N.endpoints(cid) == []


def test_bridge_deleted_behind_our_back_is_restored_on_connect(netenv: NetEnv) -> None:
    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_gone", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    link.delete_link(net.bridge)
    cid = new_id()
    path = N.create_sandbox(cid)
    ep = N.connect(cid, net.name)
    assert net.bridge in link.list_links("pcbr-")
    assert ns_run(path, BUSYBOX, "ping", "-c", "1", "-W", "2", net.gateway4).returncode == 0  # type: ignore[arg-type]
    assert ep.ipv4 is not None
