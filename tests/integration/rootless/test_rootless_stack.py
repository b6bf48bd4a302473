"""The hello example stack run by a real unprivileged user: discovery by name and alias,
isolation, a published port on the host's 127.0.0.1, a named volume across down/up, and
``down -v`` leaving nothing of that user behind."""
from __future__ import annotations

import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.rootless.conftest import Project

pytestmark = [pytest.mark.root, pytest.mark.slow]

OVERRIDE = """
services:
  web:
    ports: ["127.0.0.1:{port}:80"]
    volumes: [kept:/data]
    mem_limit: 64m
volumes:
  kept: {{}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                return str(reply.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _user_processes(uid: int) -> list[str]:
    """Live (non-zombie) processes of ``uid``: pid and command."""
    out = subprocess.run(["ps", "-U", str(uid), "-o", "pid=,stat=,args="], text=True,
                         capture_output=True, timeout=30).stdout
    return [line for line in out.splitlines() if line.split()[1:2] and
            not line.split()[1].startswith("Z")]


def _namespaces_of(user: str) -> list[str]:
    out = subprocess.run(["lsns", "-n", "-o", "NS,TYPE,USER,COMMAND"], text=True,
                         capture_output=True, timeout=30).stdout
    return [line for line in out.splitlines() if line.split()[2:3] == [user]]


def test_hello_stack_runs_rootless(project: Project) -> None:
    port = _free_port()
    (project.hello / "rootless.yaml").write_text(OVERRIDE.format(port=port))
    files = ("-f", "compose.yaml", "-f", "rootless.yaml")
    project.ok(*files, "build")
    up = project.compose(*files, "up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    # asked-for limits without a delegated cgroup: exactly one warning naming service and key
    assert len(re.findall(r"service web: mem_limit not enforced", up.stderr)) == 1, up.stderr

    waited = project.compose(*files, "wait", "client", "outsider", timeout=120)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    logs = project.ok(*files, "logs", "client", "outsider")
    assert "client: GET http://web/ -> hello from" in logs, logs  # DNS by service name
    assert "client: GET http://www/ (alias) -> hello from" in logs, logs  # and by alias
    assert "outsider: web does not resolve on the back network" in logs, logs  # isolation
    assert "outsider: and it cannot be reached from here" in logs, logs
    lookup = project.ok(*files, "exec", "-T", "web", "nslookup", "www", "127.0.0.11")
    assert re.search(r"Address: 1\d+\.\d+\.\d+\.\d+", lookup), lookup

    # a published port answers on the host's 127.0.0.1, bound by the user (not by root)
    assert "served to you by name" in _get(f"http://127.0.0.1:{port}/")
    listeners = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], text=True,
                               capture_output=True, timeout=30).stdout
    assert "127.0.0.1" in listeners, listeners

    # the container's root is the user on the host
    pid = project.ok(*files, "exec", "-T", "web", "cat", "/proc/self/status")
    assert re.search(r"Uid:\s+0\s+0\s+0\s+0", pid), pid
    top = project.ok(*files, "top", "web")
    assert "httpd" in top, top

    # a named volume survives down / up
    project.ok(*files, "exec", "-T", "web", "sh", "-c", "echo kept-across > /data/mark")
    project.ok(*files, "down", "-t", "1")
    project.ok(*files, "up", "-d", "web")
    assert project.ok(*files, "exec", "-T", "web", "cat", "/data/mark").strip() == "kept-across"

    ns_dir = project.ns_dir()
    assert (ns_dir / "pause.pid").exists()
    project.ok(*files, "down", "-v", "-t", "1")
    _assert_nothing_left(project, ns_dir, port)


def _assert_nothing_left(project: Project, ns_dir: Path, port: int) -> None:
    deadline = time.monotonic() + 10  # the daemon's processes exit right after down returns
    while (_user_processes(project.user.uid) or _namespaces_of(project.user.name)) and (
            time.monotonic() < deadline):
        time.sleep(0.1)
    assert _user_processes(project.user.uid) == []
    assert _namespaces_of(project.user.name) == []
    assert not ns_dir.exists(), sorted(ns_dir.iterdir())
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(project.state) not in mounts
    state = project.state
    assert not any((state / "volumes").iterdir()), "a volume survived down -v"
    for sub in ("containers", "runtime", "netns"):
        left = list((state / sub).iterdir()) if (state / sub).exists() else []
        assert left == [], f"{sub}: {left}"
    listening = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], text=True,
                               capture_output=True, timeout=30).stdout
    assert listening.strip() == "", listening  # the host port is no longer bound
