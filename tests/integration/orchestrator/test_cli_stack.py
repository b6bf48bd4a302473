"""The orchestrator through the CLI, as root, on the real engine (issue 6 "must show")."""
from __future__ import annotations

import json
import os
import re
import signal

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack

STACK = f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 2; touch /tmp/ready; echo db ready; {SLEEPER}"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 100ms
      timeout: 3s
      retries: 50
  migrate:
    image: {IMAGE}
    command: ["sh", "-c", "echo migrating; exit ${{MIGRATE_EXIT:-0}}"]
    depends_on:
      db: {{condition: service_healthy}}
  api:
    image: {IMAGE}
    command: ["sh", "-c", "echo api up; {SLEEPER}"]
    depends_on:
      db: {{condition: service_healthy}}
      migrate: {{condition: service_completed_successfully}}
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo web up WEBVERSION; {SLEEPER}"]
    depends_on: [api]
"""


def timings(out: str) -> dict[str, dict[str, str]]:
    lines = [ln for ln in out.splitlines() if ln.strip()]
    head = next(i for i, ln in enumerate(lines) if ln.startswith("SERVICE"))
    cols = lines[head].split()
    rows = {}
    for ln in lines[head + 1:]:
        if ln.startswith("critical path"):
            break
        cells = ln.split()
        rows[cells[0]] = dict(zip(cols, cells, strict=True))
    return rows


def container_events(err: str) -> list[tuple[str, str]]:
    return re.findall(r"Container (\S+)\s+(\w+)", err)


@pytest.mark.root
def test_three_level_stack_lifecycle(stack: Stack) -> None:
    stack.write(STACK)
    up = stack.run("up", "-d", "--timings")
    t = timings(up.stdout)
    # health-gated order: db healthy < migrate start; migrate exit < api start < web start
    assert float(t["db"]["HEALTHY_MS"]) >= 1900  # the db needs ~2 s to become healthy
    assert float(t["migrate"]["STARTED_MS"]) > float(t["db"]["HEALTHY_MS"])
    assert float(t["api"]["STARTED_MS"]) > float(t["migrate"]["EXITED_MS"])
    assert float(t["web"]["STARTED_MS"]) > float(t["api"]["STARTED_MS"])
    assert t["migrate"]["GATED_BY"] == "db" and t["api"]["GATED_BY"] == "migrate"
    for svc in ("migrate", "api", "web"):  # event → dependent launched, reported and fast
        assert float(t[svc]["GATE_GAP_MS"]) < 50, t
    assert "critical path: db -> migrate -> api -> web" in up.stdout

    ps = stack.run("ps", "--format", "json")
    rows = {r["Service"]: r for r in map(json.loads, ps.stdout.splitlines())}
    assert set(rows) == {"db", "api", "web"}
    assert rows["db"]["Health"] == "healthy" and "(healthy)" in rows["db"]["Status"]
    table = stack.run("ps", "-a").stdout
    assert table.splitlines()[0].split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED",
                                             "STATUS", "PORTS"]
    assert re.search(rf"{stack.name}-migrate-1 .*Exited \(0\)", table)

    logs = stack.run("logs", "--no-color").stdout
    assert "db-1       | db ready" in logs and "migrate-1  | migrating" in logs
    assert logs.index("db ready") < logs.index("migrating") < logs.index("api up")

    ex = stack.run("exec", "-T", "api", "sh", "-c", "echo $((6*7)); exit 3", check=False)
    assert ex.returncode == 3 and ex.stdout.strip() == "42"

    stack.run("stop", "web")
    assert "web" not in [r["Service"] for r in map(json.loads, stack.run(
        "ps", "--format", "json").stdout.splitlines())]
    stack.run("start", "web")
    restart = stack.run("restart", "api")
    assert ("Container", "") not in container_events(restart.stderr)
    assert any(n.endswith("api-1") and s == "Started" for n, s in
               container_events(restart.stderr))

    again = stack.run("up", "-d")
    changes = [(n, s) for n, s in container_events(again.stderr)
               if s in ("Creating", "Recreate", "Removing")]
    assert changes == []  # a second up changes nothing (the one-shot is merely re-run)

    stack.write(STACK.replace("WEBVERSION", "v2"))
    changed = stack.run("up", "-d")
    recreated = {n for n, s in container_events(changed.stderr) if s == "Recreate"}
    assert recreated == {f"{stack.name}-web-1"}

    down = stack.run("down", "-v", "-t", "1")
    assert f"Network {stack.name}_default Removed" in down.stderr


@pytest.mark.root
def test_failing_migrate_blocks_dependents(stack: Stack) -> None:
    stack.write(STACK)
    proc = stack.run("up", "-d", check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    stack.run("down", "-t", "1")
    env_stack = Stack(stack.dir, stack.root, stack.name)
    os.environ["MIGRATE_EXIT"] = "1"
    try:
        proc = env_stack.run("up", "-d", check=False, timeout=60)
    finally:
        del os.environ["MIGRATE_EXIT"]
    assert proc.returncode != 0
    assert 'service "migrate" didn\'t complete successfully: exit 1' in proc.stderr  # docker's
    names = [r["Service"] for r in map(json.loads, stack.run(
        "ps", "-a", "--format", "json").stdout.splitlines())]
    assert "api" not in names and "web" not in names


@pytest.mark.root
def test_abort_on_container_exit_returns_job_code(stack: Stack) -> None:
    stack.write(f"""
services:
  server:
    image: {IMAGE}
    command: ["sh", "-c", "echo serving; {SLEEPER}"]
  job:
    image: {IMAGE}
    command: ["sh", "-c", "echo working; sleep 0.5; exit 7"]
    depends_on: [server]
""")
    proc = stack.run("up", "--abort-on-container-exit", "--exit-code-from", "job",
                     check=False, timeout=60)
    assert proc.returncode == 7, proc.stderr
    assert "job-1     | working" in proc.stdout
    assert "job-1 exited with code 7" in proc.stdout
    ps = stack.run("ps").stdout.splitlines()
    assert len(ps) == 1  # everything was stopped


@pytest.mark.root
def test_supervisor_kill9_readoption(stack: Stack) -> None:
    stack.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "touch /tmp/ready; {SLEEPER}"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 100ms
""")
    stack.run("up", "-d", "--wait")
    pidfile = stack.root / "run" / f"project-{stack.name}.pid"
    old = int(pidfile.read_text())
    os.kill(old, signal.SIGKILL)
    ps = stack.run("ps", "--format", "json")  # re-adopts: starts a new supervisor
    row = json.loads(ps.stdout.splitlines()[0])
    assert row["State"] == "running"
    new = int(pidfile.read_text())
    assert new != old
    os.kill(new, 0)
    ex = stack.run("exec", "-T", "db", "true")
    assert ex.returncode == 0
