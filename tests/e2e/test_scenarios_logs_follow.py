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
