"""Which names the embedded DNS gives a container, like docker: the container name first (it is
what reverse lookups answer), the service name, the short id and the hostname."""
from __future__ import annotations

import re

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_reverse_lookup_answers_container_name_and_hostname_resolves(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  db:
    image: {IMAGE}
    hostname: database-host
    command: ["sh", "-c", "{SLEEPER}"]
  client:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    sc.up("-d", "--wait")
    db_ip = sc.sh("db", "hostname -i", check=True).stdout.split()[0]
    container = f"{sc.name}-db-1"
    reverse = sc.sh("client", f"nslookup {db_ip}", check=True).stdout
    assert re.search(rf"name = {re.escape(container)}\b", reverse), reverse
    by_host = sc.sh("client", "nslookup database-host", check=True).stdout
    assert db_ip in by_host.split("Name:", 1)[-1], by_host
