"""Scenario: ``logs -f`` follows containers started after it began — a later ``up`` of another
service (even a job that is already done) and a scale-up — like docker compose's logs test."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.e2e.scenarios import IMAGE, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_logs_follow_picks_up_new_containers(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  ping:
    image: {IMAGE}
    init: true
    command: ["sh", "-c", "while true; do echo PING localhost; sleep 0.3; done"]
  hello:
    image: {IMAGE}
    command: ["echo", "hello"]
""")
    sc.up("-d", "ping")
    follower = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", sc.name,
                                 "logs", "-f", "--no-color"], cwd=sc.dir, env=sc.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1)
        sc.up("-d")
        sc.up("-d", "--scale", "ping=2", "ping")
        time.sleep(2.5)
        sc.run("down", "-t", "1")
        out, _ = follower.communicate(timeout=20)  # ends once every stream has ended
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    prefixes = {line.split("|")[0].strip() for line in out.splitlines() if "|" in line}
    assert {"ping-1", "ping-2", "hello-1"} <= prefixes, out
    assert any(ln.startswith("hello-1 ") and ln.endswith("| hello") for ln in out.splitlines())


def test_cp_reaches_every_replica_unless_index(scenario: Scenario) -> None:
    """docker compose's cp test: a copy into the service lands in every replica, ``--index``
    picks one, a copy out reads replica #1."""
    sc = scenario
    sc.write(f"""
services:
  app:
    image: {IMAGE}
    init: true
    command: ["sleep", "300"]
""")
    (sc.dir / "cp-me.txt").write_text("hello world\n")
    sc.up("-d", "--scale", "app=3")
    sc.run("cp", str(sc.dir / "cp-me.txt"), "app:/tmp/all.txt")
    sc.run("cp", "--index=3", str(sc.dir / "cp-me.txt"), "app:/tmp/one.txt")
    for i in (1, 2, 3):
        assert sc.run("exec", "--index", str(i), "app", "cat", "/tmp/all.txt").stdout == (
            "hello world\n")
        one = sc.run("exec", "--index", str(i), "app", "cat", "/tmp/one.txt", check=False)
        assert (one.returncode == 0) == (i == 3)
    sc.run("cp", "app:/tmp/all.txt", str(sc.dir / "back.txt"))
    assert (sc.dir / "back.txt").read_text() == "hello world\n"
