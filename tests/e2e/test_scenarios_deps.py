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
    assert f"Container {sc.name}-foo-1 Started" in optional.stderr


def test_changed_volume_definition_is_recreated_on_up_yes(scenario: Scenario) -> None:
    """docker compose's TestUpRecreateVolumes: a volume whose labels changed is kept (with a
    warning) by ``up -d`` and recreated, empty, by ``up -d -y``."""
    sc = scenario
    compose = f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes: [my_vol:/my_vol]
volumes:
  my_vol:
    labels:
      foo: LABEL
"""
    sc.write(compose.replace("LABEL", "bar"))
    sc.up("-d")
    sc.run("exec", "app", "sh", "-c", "echo kept > /my_vol/f")
    sc.write(compose.replace("LABEL", "zot"))
    kept = sc.up("-d")
    assert "doesn't match configuration in compose file" in kept.stderr
    assert sc.run("exec", "app", "cat", "/my_vol/f").stdout == "kept\n"
    renewed = sc.up("-d", "-y")
    assert f"Volume {sc.name}_my_vol Removed" in renewed.stderr
    assert sc.run("exec", "app", "ls", "/my_vol").stdout == ""
    labels = sc.engine("from engine import volumes; print([v.labels.get('foo') for v in "
                       f"volumes.list_volumes() if v.name == '{sc.name}_my_vol'])")
    assert labels.strip() == "['zot']"
