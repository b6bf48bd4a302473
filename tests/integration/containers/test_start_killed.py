"""A caller SIGKILLed in the middle of ``start``: the shim it asked for finishes the start and
records it (it holds the caller's container lock until then), so ``stop``/``delete`` see a
running container, never a running one whose row says ``created``."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import engine.containers as containers
from engine.containers import lifecycle, procinfo, record
from engine.containers.spec import State
from engine.errors import NotFound
from tests.support.leaks import processes

pytestmark = pytest.mark.root

# Runs start() in a fresh interpreter that kills itself the moment the fork server has taken
# its request (the shim exists and holds the lock; nothing is recorded yet).
_KILLED_START = """
import os, signal, sys
from engine.containers import lifecycle, shim
shim._read_report = lambda sock: os.kill(os.getpid(), signal.SIGKILL)
lifecycle.start(sys.argv[1])
"""


def _start_and_die(cid: str) -> None:
    tree = str(os.path.dirname(os.path.dirname(containers.__file__)))
    proc = subprocess.run([sys.executable, "-c", _KILLED_START, cid], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": tree}, timeout=60)
    assert proc.returncode == -9, proc.stderr


def _recorded_run(cid: str) -> tuple[int, int]:
    """The row once the start in flight is recorded (taking the lock waits for it)."""
    with lifecycle.locked(cid):
        row = record.raw(cid)
    return row["shim_pid"], row["shim_start"]


def test_the_shim_records_a_start_whose_caller_died(engine) -> None:
    info = engine.create(engine.spec("caller-died", "echo up; sleep 30"))
    _start_and_die(info.id)
    shim_pid, shim_start = _recorded_run(info.id)
    engine.shims.append((shim_pid, shim_start))
    assert procinfo.alive(shim_pid, shim_start)
    seen = containers.inspect(info.id)
    assert seen.state is State.RUNNING and seen.pid > 0
    code, out, _ = containers.exec_output(info.id, ["echo", "served"])
    assert (code, out) == (0, b"served\n")
    status = containers.stop(info.id, timeout=0)
    assert status is not None and status.code == 137
    assert engine.output(info.id) == "up\n"


def test_delete_right_after_the_caller_died_waits_for_the_start(engine, state_root) -> None:
    """What ``down`` does after a killed ``up``: no race with the shim's own start (it used
    to fail with ENOENT on shim.sock or ENODEV on the cgroup, and leave the container)."""
    from engine.containers import shimd

    info = engine.create(engine.spec("delete-race", "sleep 30"))
    _start_and_die(info.id)
    containers.delete(info.id, force=True)  # blocks on the lock the shim holds, then kills
    with pytest.raises(NotFound):
        record.get(info.id)
    shimd.stop_server(state_root)
    assert processes(state_root, {info.id}) == []  # neither the shim nor the container
