"""Scenarios for compose keys docker compose honours and pycompose now implements the same way:
``ipc: service:NAME``, ``logging.driver: none``, ``post_start``/``pre_stop`` hooks."""
from __future__ import annotations

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_ipc_service_joins_that_services_namespace(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  joiner:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    ipc: service:owner
  owner:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    ipc: shareable
  alone:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    sc.up("-d")
    ns = {s: sc.sh(s, "readlink /proc/1/ns/ipc", check=True).stdout.strip()
          for s in ("joiner", "owner", "alone")}
    assert ns["joiner"] == ns["owner"] != ns["alone"], ns
    # the graph starts the owner first (an implicit dependency, as in docker compose)
    graph = sc.run("graph").stdout
    assert "owner" in graph and "joiner" in graph
