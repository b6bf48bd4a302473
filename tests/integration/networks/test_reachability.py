"""Two endpoints on one network resolve and reach each other by service name, container name
and alias; an endpoint on another network can neither resolve nor reach them."""
from __future__ import annotations

from pathlib import Path

import pytest

import engine.networks as N
from engine.naming import new_id
from tests.integration.networks.conftest import (
    BUSYBOX,
    NetEnv,
    free_subnet,
    http_get,
    ns_run,
    wait_port,
)

pytestmark = pytest.mark.root


def _net(name: str, **kw: object) -> N.NetworkInfo:
    cfg = N.IpamConfig(subnet=free_subnet())
    return N.create_network(N.NetworkSpec(name=name, ipam=N.IpamSpec(configs=(cfg,)), **kw))


def _lookup(path: Path, name: str) -> list[str]:
    out = ns_run(path, BUSYBOX, "nslookup", "-type=a", name, "127.0.0.11").stdout
    answers = out.split("Name:", 1)[1] if "Name:" in out else ""
    return [line.split()[-1] for line in answers.splitlines() if line.startswith("Address")]


def test_same_network_resolves_and_reaches_other_network_does_not(
        netenv: NetEnv, tmp_path: Path) -> None:
    front = _net(f"t{new_id()[:6]}_front")
    back = _net(f"t{new_id()[:6]}_back")
    web, client, other = new_id(), new_id(), new_id()
    paths = {cid: N.create_sandbox(cid) for cid in (web, client, other)}
    ep = N.connect(web, front.name, N.EndpointSpec(dns_names=("web", "proj-web-1"),
                                                    aliases=("www",)))
    N.connect(client, front.name, N.EndpointSpec(dns_names=("client", "proj-client-1")))
    N.connect(other, back.name, N.EndpointSpec(dns_names=("other",)))

    docroot = tmp_path / "www"
    docroot.mkdir()
    (docroot / "index.html").write_text("hello from web\n")
    netenv.spawn(paths[web], BUSYBOX, "httpd", "-f", "-p", "8080", "-h", str(docroot))
    wait_port(paths[web], 8080)

    for name in ("web", "proj-web-1", "www", "WEB"):
        assert _lookup(paths[client], name) == [ep.ipv4], name
        assert http_get(paths[client], name, 8080) == "hello from web\n", name

    # the other network sees neither the names nor the address
    assert _lookup(paths[other], "web") == []
    assert http_get(paths[other], ep.ipv4, 8080) == ""  # type: ignore[arg-type]
    # ... while the address itself is reachable from its own network (the check can fail)
    assert http_get(paths[client], ep.ipv4, 8080) == "hello from web\n"  # type: ignore[arg-type]
    # and the web container does not resolve the other network's names either
    assert _lookup(paths[web], "other") == []
    assert _lookup(paths[web], "client") != []
