"""Scenarios: how ``up`` reports a dependency that does not hold, in docker compose's words
(its e2e tests match them): an unhealthy dependency fails ``up -d`` with exit 1 naming the
container; an optional one (``required: false``) without a healthcheck only warns."""
from __future__ import annotations

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_unhealthy_and_optional_dependencies(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  fail:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    healthcheck:
      test: "false"
      interval: 1s
      retries: 2
  depends:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on:
      fail:
        condition: service_healthy
  foo:
    image: {IMAGE}
    command: ["echo", "foo"]
    depends_on:
      bar:
        required: false
        condition: service_healthy
  bar:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    up = sc.up("-d", "fail", "depends", check=False, timeout=60)
    assert up.returncode == 1
    assert f"dependency failed to start: container {sc.name}-fail-1 is unhealthy" in up.stderr
    optional = sc.up("-d", "foo", timeout=60)
    assert (f'optional dependency "bar" failed to start: container {sc.name}-bar-1 has no '
            "healthcheck configured") in optional.stderr
    assert f"Container {sc.name}-foo-1  Started" in optional.stderr
