"""Outbound NAT (to a fake "outside" host the test creates) and parallel endpoint setup."""
from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import engine.networks as N
from engine.naming import new_id
from engine.networks import link, netns
from engine.networks.netns import run_in_netns
from tests.integration.networks.conftest import (
    BUSYBOX,
    NetEnv,
    free_subnet,
    http_get,
    ns_run,
    wait_port,
)

pytestmark = pytest.mark.root


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """A namespace reachable from the host over a /30 veth: the "internet" for this test.
    Yields (netns path, its address, the host's address on the link)."""
    subnet = free_subnet()
    base = subnet.rsplit(".", 1)[0]
    host_ip, far_ip = f"{base}.1", f"{base}.2"
    path = tmp_path / "outside.ns"
    netns.create_netns(path, netns.set_lo_up)
    host_if = f"pcvo{new_id()[:8]}"
    subprocess.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0",
                    "netns", str(path)], check=True)
    link.configure_peer(path, "eth0", addrs=[(far_ip, 30)], gateways=[host_ip])
    subprocess.run(["ip", "addr", "add", f"{host_ip}/30", "dev", host_if], check=True)
    subprocess.run(["ip", "link", "set", host_if, "up"], check=True)
    try:
        yield path, far_ip, host_ip
    finally:
        link.delete_link(host_if)
        netns.remove_netns(path)
        assert not link.link_exists(host_if)


def _peer_recorder(path: Path, port: int) -> tuple[socket.socket, list[str]]:
    srv = run_in_netns(path, lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    srv.bind(("0.0.0.0", port))
    srv.listen(4)
    peers: list[str] = []

    def serve() -> None:
        while True:
            try:
                conn, addr = srv.accept()
            except OSError:
                return
            peers.append(addr[0])
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nout\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv, peers


def test_outbound_is_masqueraded_and_internal_is_not_forwarded(
        netenv: NetEnv, outside: tuple[Path, str, str]) -> None:
    path_out, far_ip, host_ip = outside
    srv, peers = _peer_recorder(path_out, 8000)
    try:
        net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_nat", ipam=N.IpamSpec(
            configs=(N.IpamConfig(subnet=free_subnet()),))))
        inner = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_int", internal=True,
                                               ipam=N.IpamSpec(configs=(N.IpamConfig(
                                                   subnet=free_subnet()),))))
        a, b = new_id(), new_id()
        pa, pb = N.create_sandbox(a), N.create_sandbox(b)
        N.connect(a, net.name)
        N.connect(b, inner.name)
        assert http_get(pa, far_ip, 8000) == "out\n"
        assert peers == [host_ip]  # the container's address was masqueraded
        # internal: no default route, and even a forced route is dropped at the bridge
        assert ns_run(pb, BUSYBOX, "ping", "-c", "1", "-W", "1", far_ip).returncode != 0
        ns_run(pb, "ip", "route", "add", "default", "via", inner.gateway4)  # type: ignore[arg-type]
        assert http_get(pb, far_ip, 8000) == "" and peers == [host_ip]
    finally:
        srv.close()


def test_outside_reaches_published_ports_only(
        netenv: NetEnv, outside: tuple[Path, str, str], tmp_path: Path) -> None:
    """A host that routes to the bridge's subnet through us (a LAN neighbour) reaches a
    container only through a published port, never at its own address -- like docker 28,
    whatever the host's FORWARD policy."""
    path_out, _, host_ip = outside
    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_in", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    web = new_id()
    path = N.create_sandbox(web)
    web_ip = str(N.connect(web, net.name).ipv4)
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text("inside\n")
    netenv.spawn(path, BUSYBOX, "httpd", "-f", "-p", "80", "-h", str(docroot))
    wait_port(path, 80)
    published = N.publish_ports(web, [N.PortBinding(80, 0)])[0].host_port
    assert http_get(path_out, host_ip, published) == "inside\n"
    assert http_get(path_out, web_ip, 80) == ""
    assert http_get(None, web_ip, 80) == "inside\n"  # the host itself still reaches it
    N.unpublish_ports(web)


def test_parallel_endpoints_get_distinct_addresses(netenv: NetEnv) -> None:
    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_par", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    ids = [new_id() for _ in range(8)]

    def up(cid: str) -> N.EndpointInfo:
        N.create_sandbox(cid)
        return N.connect(cid, net.name, N.EndpointSpec(dns_names=("svc",)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        eps = list(pool.map(up, ids))
    assert len({e.ipv4 for e in eps}) == 8
    first = N.sandbox_path(ids[0])
    for ep in eps[1:]:
        assert ns_run(first, BUSYBOX, "ping", "-c", "1", "-W", "2", ep.ipv4).returncode == 0  # type: ignore[arg-type]
    out = ns_run(first, BUSYBOX, "nslookup", "svc", "127.0.0.11").stdout
    assert sorted(line.split()[-1] for line in out.splitlines()
                  if line.startswith("Address") and "#" not in line and ":53" not in line) \
        == sorted(e.ipv4 for e in eps)  # type: ignore[type-var]
