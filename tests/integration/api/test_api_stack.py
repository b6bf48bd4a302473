"""compose.api on the real engine, in this process: up, ps, port, exec, logs, run, stop/start,
wait_healthy, down (issue 13)."""
from __future__ import annotations

import socket
import time

import pytest

from compose.api import ComposeFileError, Project, ServiceError, StackError
from tests.integration.api.conftest import IMAGE, SLEEPER, Stack

pytestmark = pytest.mark.root

STACK = f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "echo db starting; rm -f /tmp/ready; sleep 1; touch /tmp/ready;
                  {SLEEPER}"]
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 100ms
      retries: 100
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo web up; echo oops >&2; httpd -f -p 8080 -h /tmp & {SLEEPER}"]
    ports: ["127.0.0.1::8080"]
    depends_on:
      db: {{condition: service_healthy}}
  migrate:
    image: {IMAGE}
    profiles: [tools]
    command: ["sh", "-c", "echo migrated $$STEP; echo warn >&2; exit 3"]
    depends_on: [db]
"""


def project(stack: Stack) -> Project:
    stack.write(STACK)
    return Project([stack.dir / "compose.yaml"], name=stack.name)


def test_context_manager_brings_the_stack_up_and_down(api_stack: Stack) -> None:
    with project(api_stack) as p:
        rows = {r.service: r for r in p.ps()}
        assert set(rows) == {"db", "web"}
        assert rows["db"].health == "healthy"  # up() waited for it
        assert rows["web"].health is None and rows["web"].state == "running"
        assert rows["web"].name == f"{api_stack.name}-web-1"
        host, port = p.port("web", 8080)
        assert host == "127.0.0.1" and port > 0
        with socket.create_connection((host, port), timeout=5):
            pass  # busybox httpd answers on the published port
        r = p.exec("web", ["sh", "-c", "echo hi; echo err >&2; exit 4"])
        assert (r.returncode, r.stdout, r.stderr) == (4, "hi\n", "err\n")
        assert p.exec("web", "nslookup db 127.0.0.11").returncode == 0  # names resolve
        assert "web up" in p.logs("web") and "oops" in p.logs("web")
        assert "db starting" in p.logs()
    assert Project([api_stack.dir / "compose.yaml"], name=api_stack.name).ps() == []


def test_stop_start_restart_and_wait_healthy(api_stack: Stack) -> None:
    p = project(api_stack)
    try:
        p.up()
        p.stop("web")
        assert [r.state for r in p.ps("web")] == ["exited"]
        assert p.ps("web")[0].exit_code is not None
        p.start("web")
        assert p.ps("web")[0].running
        p.restart("db")
        t0 = time.monotonic()
        p.wait_healthy("db", timeout=30)  # the restarted db needs its second again
        assert time.monotonic() - t0 > 0.5
        assert p.ps("db")[0].health == "healthy"
        with pytest.raises(ServiceError, match="no healthcheck"):
            p.wait_healthy("web", timeout=1)
    finally:
        p.down()


def test_run_returns_the_one_off_result_and_removes_it(api_stack: Stack) -> None:
    p = project(api_stack)
    try:
        r = p.run("migrate", env={"STEP": "7"})  # enables the profile, starts db first
        assert (r.returncode, r.stdout, r.stderr) == (3, "migrated 7\n", "warn\n")
        assert [row.service for row in p.ps()] == ["db"]  # dependency up, one-off gone
        names = [c.name for c in p._be().list_containers(p.name)]
        assert not any("-run-" in n for n in names)
    finally:
        p.down()


def test_a_failed_up_raises_the_reason_and_down_cleans_up(api_stack: Stack) -> None:
    api_stack.write(f"""
services:
  bad:
    image: {IMAGE}
    command: ["sh", "-c", "exit 1"]
    healthcheck: {{test: ["CMD", "false"], interval: 100ms, retries: 2}}
  app:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on: {{bad: {{condition: service_healthy}}}}
""")
    p = Project([api_stack.dir / "compose.yaml"], name=api_stack.name)
    with pytest.raises(StackError) as info:
        with p:
            pytest.fail("the block must not run")
    assert any("bad" in f for f in info.value.failures), info.value.failures
    assert p.ps() == []  # __enter__ took it down again


def test_compose_mistake_raises_the_cli_message(api_stack: Stack) -> None:
    api_stack.write("services:\n  web:\n    image: x\n    ports: [\"99999:80\"]\n")
    with pytest.raises(ComposeFileError) as info:
        Project([api_stack.dir / "compose.yaml"], name=api_stack.name)
    cli = api_stack.run("config", check=False)
    assert cli.returncode == 1
    assert str(info.value) in cli.stderr, (str(info.value), cli.stderr)
    assert info.value.line == 4
