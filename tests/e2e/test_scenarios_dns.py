"""Scenarios: service discovery through the embedded DNS (127.0.0.11) and network isolation,
through the CLI as a user runs it (busybox images, private state root)."""
from __future__ import annotations

import re

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]

HTTPD = (f"mkdir -p /www; echo hello-from-$$(hostname) > /www/index.html; httpd -p 80 -h /www; "
         f"{SLEEPER}")


def resolved(sc: Scenario, client: str, name: str) -> list[str]:
    """The addresses busybox nslookup prints for ``name`` (not the server's own line)."""
    out = sc.sh(client, f"nslookup {name}")
    if out.returncode != 0:
        return []
    answer = out.stdout.split("Name:", 1)[-1] if "Name:" in out.stdout else ""
    return sorted(re.findall(r"Address(?: \d+)?:\s*([0-9.]+)\s*$", answer, re.M))


def http_get(sc: Scenario, client: str, host: str) -> str:
    """GET / from ``host``:80 inside ``client`` with nc (Debian's static busybox wget
    segfaults even on the host), 2 s timeout; the raw response or "" on failure."""
    out = sc.sh(client, f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80")
    return out.stdout if out.returncode == 0 else ""


def ip_of(sc: Scenario, service: str, index: int = 1) -> str:
    return sc.sh(service, "hostname -i", check=True, index=index).stdout.split()[0]


def test_dns_by_service_alias_container_name_and_replicas(scenario: Scenario) -> None:
    sc = scenario
    fixed = f"{sc.name}-fixed"
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{HTTPD}"]
    networks:
      front:
        aliases: [www, portal]
  named:
    image: {IMAGE}
    container_name: {fixed}
    command: ["sh", "-c", "{SLEEPER}"]
  api:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    deploy:
      replicas: 3
  client:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    networks: [front, default]
networks:
  front:
""")
    sc.up("-d", "--wait")
    web_ip = ip_of(sc, "web")
    assert resolved(sc, "client", "web") == [web_ip]
    assert resolved(sc, "client", "www") == [web_ip]      # network-level alias
    assert resolved(sc, "client", "portal") == [web_ip]
    assert resolved(sc, "client", fixed) == [ip_of(sc, "named")]  # container_name
    api_ips = sorted(ip_of(sc, "api", i) for i in (1, 2, 3))
    assert len(set(api_ips)) == 3
    assert resolved(sc, "client", "api") == api_ips      # deploy.replicas: 3 -> 3 answers
    # and the name is usable, not just resolvable: fetch a page by alias
    assert "\n\nhello-from-" in http_get(sc, "client", "www")


def test_dns_scale_flag_gives_three_addresses(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
  client:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    sc.up("-d", "--wait", "--scale", "web=3")
    ips = sorted(ip_of(sc, "web", i) for i in (1, 2, 3))
    assert len(set(ips)) == 3
    assert resolved(sc, "client", "web") == ips
    # scaling down drops the removed replicas from DNS
    sc.up("-d", "--wait", "--scale", "web=1")
    assert resolved(sc, "client", "web") == [ip_of(sc, "web", 1)]


def test_other_network_can_neither_resolve_nor_reach(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{HTTPD}"]
    networks: [front]
  client:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    networks: [front]
  outsider:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    networks: [back]
networks:
  front:
  back:
""")
    sc.up("-d", "--wait")
    web_ip = ip_of(sc, "web")
    # positive control: same network resolves and fetches
    assert resolved(sc, "client", "web") == [web_ip]
    assert "\n\nhello-from-" in http_get(sc, "client", web_ip)
    # the other network: no name, no route to the address
    assert resolved(sc, "outsider", "web") == []
    assert resolved(sc, "outsider", "client") == []
    assert http_get(sc, "outsider", web_ip) == ""
    assert http_get(sc, "outsider", "web") == ""
