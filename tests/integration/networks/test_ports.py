"""Published ports (TCP and UDP) answer from the host on 127.0.0.1 and on the host's own
address, and from a container on the same bridge (hairpin); removal leaves no rule."""
from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

import pytest

import engine.networks as N
from engine.errors import Conflict
from engine.naming import new_id
from engine.networks import firewall
from engine.networks.netns import run_in_netns
from tests.integration.networks.conftest import (
    BUSYBOX,
    NetEnv,
    firewall_text,
    free_subnet,
    http_get,
    wait_port,
)

pytestmark = pytest.mark.root


def host_address() -> str:
    """The host's own (non-loopback) IPv4 address, e.g. 192.0.2.2 on eth0 here."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        dev, addr = line.split()[1], line.split()[3].split("/")[0]
        if not dev.startswith("pc"):
            return addr
    pytest.skip("host has no global IPv4 address")


def udp_echo(path: Path, port: int) -> socket.socket:
    """A UDP echo server whose socket lives in the sandbox (served by a host thread)."""
    sock = run_in_netns(path, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    sock.bind(("0.0.0.0", port))

    def serve() -> None:
        while True:
            try:
                data, addr = sock.recvfrom(2048)
            except OSError:
                return
            sock.sendto(b"echo:" + data, addr)

    threading.Thread(target=serve, daemon=True).start()
    return sock


def udp_ask(host: str, port: int) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(b"ping", (host, port))
        try:
            return sock.recv(2048)
        except TimeoutError:
            return b""


def test_published_tcp_and_udp_ports(netenv: NetEnv, tmp_path: Path) -> None:
    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_ports", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    web, peer = new_id(), new_id()
    path = N.create_sandbox(web)
    peer_path = N.create_sandbox(peer)
    web_ip = str(N.connect(web, net.name, N.EndpointSpec(dns_names=("web",))).ipv4)
    N.connect(peer, net.name, N.EndpointSpec(dns_names=("peer",)))
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text("published\n")
    netenv.spawn(path, BUSYBOX, "httpd", "-f", "-p", "80", "-h", str(docroot))
    wait_port(path, 80)
    echo = udp_echo(path, 9053)

    bound = N.publish_ports(web, [N.PortBinding(80, 0), N.PortBinding(9053, 0, protocol="udp"),
                                  N.PortBinding(80, 0, host_ip="127.0.0.1")])
    tcp_any, udp_any, tcp_lo = (b.host_port for b in bound)
    assert all(b.host_port > 0 for b in bound) and len({tcp_any, tcp_lo}) == 2
    assert N.published_ports(web) == sorted(bound, key=lambda b: b.host_port)
    # what another state root checks before publishing the same port
    assert ("0.0.0.0", tcp_any) in firewall.published("tcp")
    assert ("127.0.0.1", tcp_lo) in firewall.published("tcp")

    me = host_address()
    assert http_get(None, "127.0.0.1", tcp_any) == "published\n"
    assert http_get(None, me, tcp_any) == "published\n"
    assert http_get(None, "127.0.0.1", tcp_lo) == "published\n"
    assert http_get(None, me, tcp_lo) == ""  # bound to 127.0.0.1 only
    assert udp_ask("127.0.0.1", udp_any) == b"echo:ping"
    assert udp_ask(me, udp_any) == b"echo:ping"
    # hairpin: a container on the same bridge through the host address
    assert http_get(peer_path, me, tcp_any) == "published\n"
    # a published port is public: a container on another network reaches it through the host
    # address, though it cannot reach the container's own address
    other = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_other", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    stranger = new_id()
    stranger_path = N.create_sandbox(stranger)
    N.connect(stranger, other.name)
    assert http_get(stranger_path, me, tcp_any) == "published\n"
    assert http_get(stranger_path, web_ip, 80) == ""

    with pytest.raises(Conflict, match="already allocated"):
        N.publish_ports(peer, [N.PortBinding(80, tcp_any)])

    N.unpublish_ports(web)
    assert http_get(None, "127.0.0.1", tcp_any) == ""
    rules = firewall_text()
    assert f"dport {tcp_any}" not in rules and f"dport {udp_any}" not in rules
    echo.close()
