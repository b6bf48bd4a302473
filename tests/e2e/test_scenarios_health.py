"""Scenarios: start order gated by ``depends_on`` conditions — ``service_healthy`` and
``service_completed_successfully`` — and how ``up`` fails when the gate never opens.

Times come from two independent clocks: the events stream (``pycompose events --json``) and the
host's /proc/uptime read inside the containers (no time namespace, so it is the host clock)."""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, events, scenario, wait_for

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]

UPTIME = "cut -d' ' -f1 /proc/uptime"


def event_time(seen: list[dict[str, object]], service: str, action: str) -> dt.datetime:
    times = [dt.datetime.fromisoformat(str(e["time"])) for e in seen
             if e["service"] == service and e["action"] == action]
    assert times, f"no {action!r} event for {service}: {seen}"
    return times[0]


def uptime_offset() -> float:
    """Wall clock minus the host's uptime clock, to put event times on the uptime clock."""
    with open("/proc/uptime") as f:
        return time.time() - float(f.read().split()[0])


def marks(sc: Scenario, service: str, tag: str) -> list[float]:
    """The uptimes a service logged as ``TAG <uptime>`` lines."""
    out = sc.run("logs", "--no-log-prefix", service).stdout
    return [float(m) for m in re.findall(rf"^{tag} ([0-9.]+)$", out, re.M)]


def test_service_healthy_gates_the_dependent(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 1.5; touch /tmp/ready; echo READY $$({UPTIME}); {SLEEPER}"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 300ms
      timeout: 1s
      retries: 20
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo START $$({UPTIME}); {SLEEPER}"]
    depends_on:
      db:
        condition: service_healthy
""")
    with events(sc) as seen:
        up = sc.up("-d")
        wait_for(lambda: any(e["action"] == "health_status: healthy" for e in seen),
                 10, f"db's healthy event in {seen}")
    assert re.search(rf"{sc.name}-db-1\s+Healthy", up.stderr), up.stderr
    assert up.stderr.index("app-1 Started") > up.stderr.index("db-1 Healthy")
    # the dependency's healthy time (events, wall clock) on the host's uptime clock
    healthy = event_time(seen, "db", "health_status: healthy").timestamp() - uptime_offset()
    (ready,) = marks(sc, "db", "READY")
    (start,) = marks(sc, "app", "START")
    assert ready <= healthy + 0.02  # 10 ms resolution of /proc/uptime, each side
    assert start >= healthy - 0.02  # the dependent ran only after the dependency was healthy
    rows = {r["Service"]: r for r in sc.ps()}
    assert rows["db"]["Health"] == "healthy"
    assert rows["app"]["State"] == "running"


def test_unhealthy_dependency_keeps_dependent_down(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    healthcheck:
      test: ["CMD-SHELL", "exit 1"]
      interval: 200ms
      timeout: 1s
      retries: 2
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo APP RAN; {SLEEPER}"]
    depends_on:
      db:
        condition: service_healthy
""")
    up = sc.up("-d", check=False, timeout=60)
    assert up.returncode != 0
    assert re.search(rf"{sc.name}-db-1.*unhealthy|db.*unhealthy", up.stderr), up.stderr
    rows = {r["Service"]: r for r in sc.ps()}
    assert rows["db"]["Health"] == "unhealthy"
    assert "app" not in rows or rows["app"]["State"] == "created"
    assert "APP RAN" not in sc.run("logs", "--no-log-prefix").stdout


def test_completed_successfully_lets_dependent_start(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  job:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 1; echo DONE $$({UPTIME}); exit 0"]
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo START $$({UPTIME}); {SLEEPER}"]
    depends_on:
      job:
        condition: service_completed_successfully
""")
    sc.up("-d")
    (done,) = marks(sc, "job", "DONE")
    (start,) = marks(sc, "app", "START")
    assert start >= done
    rows = {r["Service"]: r for r in sc.ps()}
    assert (rows["job"]["State"], rows["job"]["ExitCode"]) == ("exited", 0)
    assert rows["app"]["State"] == "running"


def test_completed_with_failure_blocks_dependent(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  job:
    image: {IMAGE}
    command: ["sh", "-c", "echo failing; exit 3"]
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo APP RAN; {SLEEPER}"]
    depends_on:
      job:
        condition: service_completed_successfully
""")
    up = sc.up("-d", check=False, timeout=60)
    assert up.returncode != 0
    # docker compose: service "job" didn't complete successfully: exit 3
    assert re.search(r"\bjob\b.*\b(exit|code)\D{0,3}3\b", up.stderr), up.stderr
    rows = {r["Service"]: r for r in sc.ps()}
    assert (rows["job"]["State"], rows["job"]["ExitCode"]) == ("exited", 3)
    assert "app" not in rows or rows["app"]["State"] == "created"
    assert "APP RAN" not in sc.run("logs", "--no-log-prefix").stdout
