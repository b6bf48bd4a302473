"""scale, version, volumes, ps/ls Go templates and filters, logs --until, events --since,
and the deterministic exit code of --abort-on-container-exit, through the CLI as root."""
from __future__ import annotations

import json

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack


@pytest.mark.root
def test_scale_ps_templates_and_volumes(stack: Stack) -> None:
    stack.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo hello; {SLEEPER}"]
    volumes: [data:/data]
  db:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
volumes:
  data:
""")
    stack.run("up", "-d", "--wait")
    stack.run("scale", "web=3")
    names = stack.run("ps", "--format", "{{.Name}}").stdout.split()
    assert names == [f"{stack.name}-db-1"] + [f"{stack.name}-web-{i}" for i in (1, 2, 3)]
    table = stack.run("ps", "--format", "table {{.Service}}\t{{.State}}").stdout.splitlines()
    assert table[0].split() == ["SERVICE", "STATE"] and table[1].split() == ["db", "running"]
    stack.run("scale", "web=1")
    assert stack.run("ps", "--services").stdout.split() == ["db", "web"]
    assert len(stack.run("ps", "-q").stdout.split()) == 2
    assert stack.run("ps", "--filter", "status=exited", "-q").stdout == ""
    bad = stack.run("ps", "--filter", "foo=bar", check=False)
    assert bad.returncode == 2 and "unknown filter foo" in bad.stderr
    bad = stack.run("ps", "--format", "{{if .Name}}x{{end}}", check=False)
    assert bad.returncode == 1 and "'if' is not supported" in bad.stderr
    assert stack.run("volumes", "-q").stdout.split() == [f"{stack.name}_data"]
    assert stack.run("volumes", "-q", "db").stdout == ""
    vols = stack.run("volumes", "--format", "json").stdout.splitlines()
    assert json.loads(vols[0])["Name"] == f"{stack.name}_data"
    assert stack.run("volumes").stdout.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    ls = stack.run("ls", "--filter", f"name={stack.name}", "--format", "{{.Name}}").stdout
    assert ls.split() == [stack.name]
    logs = stack.run("logs", "--until", "1970-01-02T00:00:00Z", "web").stdout
    assert logs == ""
    assert "hello" in stack.run("logs", "--until", "0s", "web").stdout
    events = stack.run("events", "--json", "--since", "10m", "--until", "0s").stdout
    assert "start" in {json.loads(e)["action"] for e in events.splitlines()}


@pytest.mark.root
def test_version_shapes(stack: Stack) -> None:
    assert stack.run("version").stdout.startswith("pycompose version v")
    short = stack.run("version", "--short").stdout.strip()
    assert short[0].isdigit() and not short.startswith("v")
    assert json.loads(stack.run("version", "--format", "json").stdout) == {"version": "v" + short}
    assert stack.run("--version").stdout == stack.run("version").stdout
    assert stack.run("version", "-f", "{{.Version}}").stdout.strip() == "v" + short


@pytest.mark.root
def test_abort_on_container_exit_code_is_deterministic(stack: Stack) -> None:
    stack.write(f"""
services:
  a:
    image: {IMAGE}
    command: ["sh", "-c", "exit 0"]
  b:
    image: {IMAGE}
    command: ["sh", "-c", "exit 3"]
""")
    codes = {stack.run("up", "--abort-on-container-exit", check=False).returncode
             for _ in range(3)}
    assert codes == {3}  # exiting together: the failure wins, every run


@pytest.mark.root
def test_rejected_flags_say_so(stack: Stack) -> None:
    stack.write(f"services:\n  a:\n    image: {IMAGE}\n")
    out = stack.run("up", "--menu", check=False)
    assert out.returncode == 2 and "not supported by pycompose" in out.stderr
    out = stack.run("up", "--pull", "sometimes", check=False)
    assert out.returncode == 2 and "invalid --pull option" in out.stderr
