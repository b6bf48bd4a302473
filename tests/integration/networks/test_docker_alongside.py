"""Next to docker: after dockerd set the iptables-nft ``FORWARD`` policy to DROP and wrote its
chains, our networks still work (within a network, published ports, outbound NAT: the rest of
the suite), docker's own rules are left as they were, and docker's bridge is no more open to
our containers than to anything else (its published port answers, its container's own address
does not).

Needs docker's rule set on the host: test_backends.py runs this in a private network namespace
with it (privatens.py); on a host where dockerd runs, it runs as is.
"""
from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.networks as N
from engine.naming import new_id
from engine.networks import link, netns
from engine.networks.firewall import probe
from tests.integration.networks import privatens
from tests.integration.networks.conftest import (
    BUSYBOX,
    NetEnv,
    free_subnet,
    host_chain_text,
    http_get,
    ns_popen,
    wait_port,
)

pytestmark = pytest.mark.root


def _docker_rules_present() -> bool:
    chains = {(c.table, c.name): c for c in probe.nft_chains() if c.family == "ip"}
    forward = chains.get(("filter", "FORWARD"))
    return (forward is not None and forward.policy == "drop"
            and ("filter", "DOCKER-USER") in chains and link.link_exists("docker0"))


if not _docker_rules_present():
    pytestmark = [pytest.mark.root, pytest.mark.skip(
        reason="no docker rule set here (iptables-nft FORWARD DROP + DOCKER-USER + docker0); "
               "test_backends.py runs this in a private netns that has one")]


@pytest.fixture
def docker_container(tmp_path: Path) -> Iterator[Path]:
    """A "docker container" on docker0 (privatens.DOCKER_CTR) serving HTTP on port 80
    (published by docker) and 81 (not published)."""
    path = tmp_path / "docker-ctr.ns"
    netns.create_netns(path, netns.set_lo_up)
    host_if = f"veth{new_id()[:8]}"
    subprocess.run(["ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0",
                    "netns", str(path)], check=True)
    subprocess.run(["ip", "link", "set", host_if, "master", "docker0", "up"], check=True)
    link.configure_peer(path, "eth0", addrs=[(privatens.DOCKER_CTR, 24)],
                        gateways=[privatens.DOCKER_GW])
    docroot = tmp_path / "docker-www"
    docroot.mkdir()
    (docroot / "index.html").write_text("docker\n")
    procs = [ns_popen(path, BUSYBOX, "httpd", "-f", "-p", port, "-h", str(docroot))
             for port in ("80", "81")]
    try:
        wait_port(path, 80)
        wait_port(path, 81)
        yield path
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        link.delete_link(host_if)
        netns.remove_netns(path)


def _docker_lines(text: str) -> list[str]:
    """The table's chains and rules that are not ours, without packet counters."""
    return [re.sub(r"\[\d+:\d+\]", "", line) for line in text.splitlines()
            if not line.startswith("#") and "PYCOMPOSE" not in line
            and "pycompose" not in line]


def test_docker_rules_untouched_and_docker_bridge_stays_closed(
        netenv: NetEnv, docker_container: Path, tmp_path: Path) -> None:
    before = host_chain_text()
    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_dk", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    web, client = new_id(), new_id()
    pw, pc = N.create_sandbox(web), N.create_sandbox(client)
    ip = str(N.connect(web, net.name, N.EndpointSpec(dns_names=("web",))).ipv4)
    N.connect(client, net.name, N.EndpointSpec(dns_names=("client",)))
    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text("ours\n")
    netenv.spawn(pw, BUSYBOX, "httpd", "-f", "-p", "80", "-h", str(docroot))
    wait_port(pw, 80)

    during = host_chain_text()
    assert ":FORWARD DROP" in during  # docker's policy is kept
    assert _docker_lines(during) == _docker_lines(before)  # and every rule of docker's
    assert any(line.startswith("-A DOCKER-USER") and "PYCOMPOSE-ALLOW" in line
               for line in during.splitlines())
    assert http_get(pc, "web", 80) == "ours\n"  # within our network, by name
    assert http_get(pc, ip, 80) == "ours\n"
    # docker's container: its published port answers (docker's rules accept it) ...
    uplink = privatens.UPLINK.split("/")[0]
    assert http_get(pc, uplink, privatens.DOCKER_PUBLISHED) == "docker\n"
    # ... an unpublished port at its own address does not: we open nothing of docker's
    # (docker 20.10's own rules accept its published container port 80 from anywhere)
    assert http_get(pc, privatens.DOCKER_CTR, 81) == ""
    # while the host (no forwarding involved) reaches it: the check can succeed
    assert http_get(None, privatens.DOCKER_CTR, 81) == "docker\n"

    N.cleanup_all()
    after = host_chain_text()
    assert "PYCOMPOSE" not in after and "pycompose" not in after
    assert _docker_lines(after) == _docker_lines(before)
