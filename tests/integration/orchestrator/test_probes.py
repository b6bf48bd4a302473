"""Healthcheck probes past their ``timeout`` are killed in the container (their process group),
count as failures with docker's message, and never pile up."""
from __future__ import annotations

import time

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack

pytestmark = pytest.mark.root


def probes_running(stack: Stack) -> int:
    """How many probe processes (``sleep 31`` and its shell) run in the container now."""
    ps = stack.run("exec", "-T", "web", "ps", "-o", "pid,args").stdout
    return sum(1 for ln in ps.splitlines() if "sleep 31" in ln)


def test_a_probe_past_its_timeout_is_killed_and_marks_unhealthy(stack: Stack) -> None:
    stack.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    healthcheck:
      test: ["CMD-SHELL", "sleep 31 & sleep 31; echo never"]
      interval: 1s
      timeout: 1s
      retries: 2
  app:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on:
      web:
        condition: service_healthy
""")
    proc = stack.run("up", "-d", check=False)
    assert proc.returncode != 0
    assert "unhealthy" in proc.stderr
    assert "Health check exceeded timeout (1s)" in proc.stderr
    assert "(unhealthy)" in stack.run("ps", "web").stdout
    # Probes keep running every second; each one (a shell, its background and foreground
    # sleep) is killed with its group at its timeout: at most one probe's processes exist at
    # any time, where abandoned ones would add three processes a second.
    seen = []
    for _ in range(6):
        seen.append(probes_running(stack))
        time.sleep(0.5)
    assert max(seen) <= 3, seen
