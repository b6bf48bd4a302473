"""The embedded DNS at 127.0.0.11, queried from inside a sandbox with dnspython."""
from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

import engine.networks as N
from engine.naming import new_id
from engine.networks import dns_control
from engine.networks.netns import run_in_netns
from tests.integration.networks.conftest import NetEnv, free_subnet
from tests.integration.networks.fakedns import big_addresses

pytestmark = pytest.mark.root
DNS = "127.0.0.11"


def query(path: Path, name: str, rdtype: str = "A", *, tcp: bool = False) -> dns.message.Message:
    """Ask 127.0.0.11 from a socket created inside the sandbox."""
    kind = socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM
    sock = run_in_netns(path, lambda: socket.socket(socket.AF_INET, kind))
    msg = dns.message.make_query(name, rdtype)
    with sock:
        if tcp:
            sock.settimeout(5)
            sock.connect((DNS, 53))
            return dns.query.tcp(msg, DNS, timeout=5, sock=sock)
        return dns.query.udp(msg, DNS, timeout=5, sock=sock)


def addresses(msg: dns.message.Message) -> list[str]:
    return [r.to_text() for rrset in msg.answer for r in rrset]


@pytest.fixture
def stack(netenv: NetEnv) -> dict[str, object]:
    spec = N.NetworkSpec(name=f"t{new_id()[:6]}_dns", enable_ipv6=True, ipam=N.IpamSpec(configs=(
        N.IpamConfig(subnet=free_subnet()), N.IpamConfig(subnet="fd70:7963:6fa1::/64"))))
    net = N.create_network(spec)
    workers = [new_id() for _ in range(3)]
    client = new_id()
    paths = {cid: N.create_sandbox(cid) for cid in [*workers, client]}
    eps = [N.connect(cid, net.name, N.EndpointSpec(dns_names=(f"proj-worker-{i + 1}", "worker")))
           for i, cid in enumerate(workers)]
    N.connect(client, net.name, N.EndpointSpec(dns_names=("client",), ipv6_address=None))
    return {"net": net, "workers": workers, "eps": eps, "client": paths[client], "paths": paths}


def test_scaled_service_resolves_to_every_replica_rotated(stack: dict) -> None:  # type: ignore[type-arg]
    path = stack["client"]
    want = sorted(ep.ipv4 for ep in stack["eps"])
    answers = [addresses(query(path, "worker")) for _ in range(3)]
    assert all(sorted(a) == want for a in answers)
    assert len({a[0] for a in answers}) == 3  # each replica comes first once
    assert addresses(query(path, "proj-worker-2")) == [stack["eps"][1].ipv4]


def test_aaaa_ptr_tcp_and_unknown_types(stack: dict) -> None:  # type: ignore[type-arg]
    path, ep = stack["client"], stack["eps"][0]
    v6 = query(path, "proj-worker-1", "AAAA")
    assert addresses(v6) == [ep.ipv6] and ep.ipv6.startswith("fd70:7963:6fa1:")
    mx = query(path, "worker", "MX")  # known name, no such record: empty NOERROR, not forwarded
    assert mx.rcode() == dns.rcode.NOERROR and not mx.answer
    rev = dns.reversename.from_address(ep.ipv4).to_text()
    ptr = query(path, rev, "PTR")
    assert addresses(ptr) == [f"proj-worker-1.{stack['net'].name}."]
    assert sorted(addresses(query(path, "worker", tcp=True))) == sorted(
        e.ipv4 for e in stack["eps"])


def test_known_name_without_ipv6_gets_empty_aaaa(netenv: NetEnv) -> None:
    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_v4", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    cid = new_id()
    path = N.create_sandbox(cid)
    N.connect(cid, net.name, N.EndpointSpec(dns_names=("only4",)))
    before = netenv.upstream.udp_queries
    reply = query(path, "only4", "AAAA")
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer
    assert netenv.upstream.udp_queries == before  # never forwarded


def test_unknown_names_are_forwarded_with_tcp_fallback(stack: dict, netenv: NetEnv) -> None:  # type: ignore[type-arg]
    path = stack["client"]
    assert addresses(query(path, "www.upstream.test")) == ["10.99.0.1"]
    assert query(path, "nosuch.example").rcode() == dns.rcode.NXDOMAIN
    truncated = query(path, "big.upstream.test")
    assert truncated.flags & dns.flags.TC  # passed through to the UDP client ...
    full = query(path, "big.upstream.test", tcp=True)  # ... which retries over TCP
    # The contract: upstream answers are never cached; a TCP client's query goes to the
    # upstream over TCP (no UDP attempt first), and the answer is that upstream's.
    assert sorted(addresses(full)) == sorted(big_addresses(netenv.upstream.port))
    assert netenv.upstream.log == [("udp", "www.upstream.test."), ("udp", "nosuch.example."),
                                   ("udp", "big.upstream.test."), ("tcp", "big.upstream.test.")]
    again = query(path, "big.upstream.test", tcp=True)
    assert sorted(addresses(again)) == sorted(big_addresses(netenv.upstream.port))
    assert netenv.upstream.log[-1] == ("tcp", "big.upstream.test.")
    assert netenv.upstream.tcp_queries == 2


def test_names_follow_start_and_stop(stack: dict) -> None:  # type: ignore[type-arg]
    path, first = stack["client"], stack["workers"][0]
    N.set_endpoint_active(first, False)
    assert stack["eps"][0].ipv4 not in addresses(query(path, "worker"))
    assert query(path, "proj-worker-1").rcode() == dns.rcode.NXDOMAIN  # forwarded: unknown
    N.set_endpoint_active(first, True)
    assert addresses(query(path, "proj-worker-1")) == [stack["eps"][0].ipv4]


def test_container_can_bind_port_53_itself(stack: dict) -> None:  # type: ignore[type-arg]
    path = stack["client"]

    def bind53() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("0.0.0.0", 53))
        return sock

    own = run_in_netns(path, bind53)
    with own:
        assert addresses(query(path, "proj-worker-3")) == [stack["eps"][2].ipv4]


def test_daemon_killed_is_readopted(stack: dict) -> None:  # type: ignore[type-arg]
    pid = dns_control.daemon_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    dns_control.sync(start=True)  # a new daemon re-creates every sandbox's sockets
    assert dns_control.daemon_pid() not in (None, pid)
    assert addresses(query(stack["client"], "proj-worker-1")) == [stack["eps"][0].ipv4]


def test_a_started_container_brings_back_a_daemon_that_died(stack: dict) -> None:  # type: ignore[type-arg]
    """Marking a container running must leave its name answered, even when the daemon went
    away since the connect (killed, or exited with its last sandbox): no window where `up`
    has returned and the name does not resolve."""
    first = stack["workers"][0]
    N.set_endpoint_active(first, False)
    pid = dns_control.daemon_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    N.set_endpoint_active(first, True)
    assert dns_control.daemon_pid() not in (None, pid)
    assert addresses(query(stack["client"], "proj-worker-1")) == [stack["eps"][0].ipv4]


def test_container_dns_servers_are_its_upstreams(netenv: NetEnv) -> None:
    from tests.integration.networks.fakedns import FakeUpstream

    own = FakeUpstream("127.0.0.78")
    try:
        net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_up", ipam=N.IpamSpec(
            configs=(N.IpamConfig(subnet=free_subnet()),))))
        cid = new_id()
        path = N.create_sandbox(cid, dns_servers=[own.address])
        N.connect(cid, net.name, N.EndpointSpec(dns_names=("me",)))
        assert addresses(query(path, "a.upstream.test")) == ["10.99.0.1"]
        assert own.udp_queries == 1 and netenv.upstream.udp_queries == 0
        assert [e.dns_names for e in N.endpoints(network=net.name)] == [("me",)]
    finally:
        own.close()


def _dns_ports(path: Path) -> set[tuple[str, int]]:
    """The ports bound on 127.0.0.11 inside the sandbox (its /proc/thread-self/net tables)."""
    def read() -> set[tuple[str, int]]:
        found = set()
        for proto in ("udp", "tcp"):
            with open(f"/proc/thread-self/net/{proto}") as table:
                for line in list(table)[1:]:
                    local = line.split()[1]
                    if local.startswith("0B00007F:"):  # 127.0.0.11, little-endian
                        found.add((proto, int(local.split(":")[1], 16)))
        return found

    return run_in_netns(path, read)


def test_every_sandbox_gets_its_dns_sockets_on_the_same_ports(stack: dict) -> None:  # type: ignore[type-arg]
    """One pair of ports in every sandbox (their redirect rules are then the same, and built
    once); each still answers."""
    ports = {cid: _dns_ports(path) for cid, path in stack["paths"].items()}
    first = next(iter(ports.values()))
    assert {p for p, _ in first} == {"udp", "tcp"}
    assert all(found == first for found in ports.values()), ports
    for path in stack["paths"].values():
        assert addresses(query(path, "proj-worker-2")) == [stack["eps"][1].ipv4]
