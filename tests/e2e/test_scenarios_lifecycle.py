"""Scenarios: a container's life as the user drives it — ``--exit-code-from``, restart
``on-failure:N``, and stop grace (a trapped SIGTERM exits 0, an ignored one is SIGKILLed after
the grace period and shows ``Exited (137)``)."""
from __future__ import annotations

import re
import time

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, events, scenario, wait_for

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_exit_code_from_returns_the_job_code(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  server:
    image: {IMAGE}
    command: ["sh", "-c", "echo serving; {SLEEPER}"]
  job:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 0.5; echo job done; exit 7"]
    depends_on: [server]
""")
    up = sc.up("--abort-on-container-exit", "--exit-code-from", "job", check=False, timeout=60)
    assert up.returncode == 7, up.stdout + up.stderr
    assert "job done" in up.stdout
    assert re.search(r"job-1 exited with code 7", up.stdout), up.stdout
    assert up.stdout.startswith("Attaching to job-1, server-1\n"), up.stdout  # docker's line
    rows = {r["Service"]: r for r in sc.ps()}
    assert (rows["job"]["State"], rows["job"]["ExitCode"]) == ("exited", 7)
    assert rows["server"]["State"] == "exited"  # the abort stopped the rest


def test_restart_on_failure_stops_after_the_limit(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  flaky:
    image: {IMAGE}
    command: ["sh", "-c", "echo run; exit 5"]
    restart: on-failure:2
""")
    sc.up("-d")

    def settled() -> bool:
        (row,) = sc.ps()
        return row["State"] == "exited" and row["RestartCount"] == 2

    wait_for(settled, 30, "flaky to exit for good after 2 restarts")
    time.sleep(1.5)  # docker's first restart delay is 100 ms, doubling: no 3rd run may follow
    (row,) = sc.ps()
    assert (row["State"], row["ExitCode"], row["RestartCount"]) == ("exited", 5, 2)
    assert "Exited (5)" in str(row["Status"])
    assert sc.run("logs", "--no-log-prefix", "flaky").stdout.count("run\n") == 3


def test_stop_grace_trapped_term_exits_0_ignored_term_is_killed(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  polite:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
  stubborn:
    image: {IMAGE}
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]
    stop_grace_period: 1s
""")
    sc.up("-d", "--wait")

    began = time.monotonic()
    sc.run("stop", "polite")
    polite_took = time.monotonic() - began
    began = time.monotonic()
    sc.run("stop", "stubborn")
    stubborn_took = time.monotonic() - began

    rows = {r["Service"]: r for r in sc.ps()}
    assert (rows["polite"]["State"], rows["polite"]["ExitCode"]) == ("exited", 0)
    assert (rows["stubborn"]["State"], rows["stubborn"]["ExitCode"]) == ("exited", 137)
    table = sc.run("ps", "-a").stdout
    assert re.search(rf"{sc.name}-stubborn-1 .*Exited \(137\)", table), table
    assert re.search(rf"{sc.name}-polite-1 .*Exited \(0\)", table), table
    assert stubborn_took >= 1.0  # waited the whole grace period...
    assert stubborn_took < 1.0 + 3.0  # ...then killed (CLI start-up included)
    assert polite_took < stubborn_took  # the trapped TERM ended at once

    # `stop -t 1` overrides the grace period the same way
    sc.run("start", "stubborn")
    wait_for(lambda: sc.ps("stubborn")[0]["State"] == "running", 10, "stubborn to run")
    began = time.monotonic()
    sc.run("stop", "-t", "1", "stubborn")
    took = time.monotonic() - began
    assert 1.0 <= took < 4.0
    assert sc.ps("stubborn")[0]["ExitCode"] == 137


def test_events_report_start_and_die(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  brief:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 1; exit 4"]
""")
    with events(sc) as seen:
        sc.up("-d")
        wait_for(lambda: any(e["action"] == "die" for e in seen), 15, f"a die event in {seen}")
    actions = [e["action"] for e in seen if e["service"] == "brief"]
    assert actions.index("start") < actions.index("die")
    (die,) = [e for e in seen if e["action"] == "die"]
    assert die["attributes"]["exitCode"] == 4  # type: ignore[index]


def test_restart_always_revives_a_crash_but_not_a_user_stop(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  svc:
    image: {IMAGE}
    command: ["sh", "-c", "echo up; if [ ! -f /tmp/crashed ]; then touch /tmp/crashed; \\
      sleep 0.3; exit 1; fi; {SLEEPER}"]
    restart: always
""")
    sc.up("-d")

    def revived() -> bool:
        (row,) = sc.ps()
        return row["State"] == "running" and row["RestartCount"] == 1

    wait_for(revived, 20, "svc to be restarted once after its crash")
    sc.run("kill", "svc")  # SIGKILL by the user: exit 137, and no restart
    time.sleep(1.5)
    (row,) = sc.ps()
    assert (row["State"], row["ExitCode"], row["RestartCount"]) == ("exited", 137, 1)
    assert "Exited (137)" in str(row["Status"])
    assert sc.run("logs", "--no-log-prefix", "svc").stdout.count("up\n") == 2


def test_abort_on_container_failure_ignores_success(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  ok:
    image: {IMAGE}
    command: ["sh", "-c", "echo fine; exit 0"]
  server:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
  bad:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 1.5; exit 9"]
""")
    up = sc.up("--abort-on-container-failure", check=False, timeout=60)
    assert up.returncode == 9, up.stdout + up.stderr  # docker: the failing container's code
    rows = {r["Service"]: r for r in sc.ps()}
    assert (rows["ok"]["ExitCode"], rows["bad"]["ExitCode"]) == (0, 9)
    assert rows["server"]["State"] == "exited"  # stopped by the abort, not by ok's exit 0


def test_a_long_project_name_still_gets_its_supervisor_and_dns(scenario: Scenario) -> None:
    """Unix socket paths are limited to 108 bytes; the project's socket (run/project-NAME.sock
    under the state root) must not be what limits project names or state-root depth."""
    sc = scenario
    sc.name = "long" + "x" * 96
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    restart: always
  client:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    assert len(str(sc.root / "run" / f"project-{sc.name}.sock")) > 108
    sc.up("-d", "--wait")
    out = sc.sh("client", "nslookup web", check=True).stdout
    assert "Name:" in out, out
    assert sc.run("events", "--json", "--until", "1s", check=False).returncode == 0
