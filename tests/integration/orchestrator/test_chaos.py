"""SIGKILL of ``up`` at each of its main steps, then ``down``: it exits 0 and nothing is left.

The kill points are the progress lines ``up`` prints (a real process stopped at a real step):
the network created, a container created, a container being started (its shim being forked and
the container created by the runtime), a container started; and the project supervisor killed
instead of the CLI. The leak check looks by name for everything the store ever recorded during
the run (see tests/support/leaks.py). bench/chaos.py does the same at random moments.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack
from tests.support.leaks import Sampler, Seen, leaks

pytestmark = [pytest.mark.root, pytest.mark.slow]

SERVICES = 4


def _compose() -> str:
    lines = ["services:"]
    for i in range(SERVICES):
        lines += [f"  svc{i}:", f"    image: {IMAGE}", f'    command: ["sh", "-c", "{SLEEPER}"]']
    return "\n".join(lines) + "\n"


def _up_killed_at(stack: Stack, marker: str, victim: str, seen: Seen
                  ) -> tuple[int, list[str]]:
    """Run ``up -d``; at the first stderr line containing ``marker`` SIGKILL ``victim`` (the
    CLI or the supervisor). Returns up's exit status and what it printed."""
    sampler = Sampler(stack.root / "state.db", seen)
    sampler.start()
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name,
                             "--progress", "plain", "up", "-d"], cwd=stack.dir, env=stack.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    printed = []
    try:
        for line in proc.stderr:
            printed.append(line)
            if marker in line:
                _kill(stack, proc, victim)
                break
        else:
            pytest.fail(f"up never printed {marker!r}:\n{''.join(printed)}")
        printed += proc.stderr.readlines()
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sampler.stop.set()
        sampler.join()
    return proc.returncode, printed


def _kill(stack: Stack, proc: subprocess.Popen[str], victim: str) -> None:
    if victim == "cli":
        proc.kill()
        return
    pid = int((stack.root / "run" / f"project-{stack.name}.pid").read_text())
    os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(("marker", "victim"), [
    ("_default Created", "cli"),
    ("-1 Created", "cli"),
    (" Starting", "cli"),
    (" Started", "cli"),
    (" Starting", "supervisor"),
], ids=["network-created", "container-created", "starting", "started", "supervisor"])
def test_down_after_up_killed_leaves_nothing(stack: Stack, marker: str, victim: str) -> None:
    stack.write(_compose())
    seen = Seen()
    code, printed = _up_killed_at(stack, marker, victim, seen)
    seen.sample(stack.root / "state.db")  # a kill right after the first row beats the sampler
    assert seen.networks, "".join(printed)  # the sampler saw what to look for
    if victim == "supervisor":  # the CLI went on: a new supervisor re-adopted everything
        assert code == 0, "".join(printed)
        rows = [json.loads(r) for r in stack.run("ps", "--format", "json").stdout.splitlines()]
        assert [r["State"] for r in rows] == ["running"] * SERVICES
    down = stack.run("down", "-v", "-t", "1", check=False)
    assert down.returncode == 0, down.stderr
    seen.sample(stack.root / "state.db")
    assert leaks(stack.root, seen) == []


def test_up_again_after_a_killed_up_converges(stack: Stack) -> None:
    """The next ``up`` after a kill mid-start adopts or replaces what the killed one left."""
    stack.write(_compose())
    _up_killed_at(stack, " Starting", "cli", Seen())
    stack.run("up", "-d")
    rows = [json.loads(r) for r in stack.run("ps", "--format", "json").stdout.splitlines()]
    assert sorted((r["Service"], r["State"]) for r in rows) == [
        (f"svc{i}", "running") for i in range(SERVICES)]
