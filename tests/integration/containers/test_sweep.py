"""After a crash: the sweep finds and removes everything by its predictable name."""
from __future__ import annotations

import pytest

import engine.containers as containers
from engine.containers import procinfo, record
from engine.containers.spec import State

pytestmark = pytest.mark.root


def test_sweep_removes_objects_whose_row_is_gone(engine) -> None:
    info = engine.run(engine.spec("orphan", "sleep 30"))
    row = record.raw(info.id)
    record.remove(info.id)  # as if the row never made it (or the database was lost)
    assert info.id in containers.sweep()
    assert procinfo.wait_exit(row["shim_pid"], row["shim_start"], 10)
    assert not procinfo.alive(row["pid"], row["pid_start"])
    # the engine fixture asserts: no mount, cgroup, shim or directory left


def test_sweep_finishes_an_interrupted_removal(engine) -> None:
    info = engine.run(engine.spec("half-removed", "sleep 30", stop_grace_period=0.1))
    containers.stop(info.id)
    record.transition(info.id, State.REMOVING)  # the CLI died in the middle of delete
    assert containers.sweep() == [info.id]
    assert containers.list() == []


def test_sweep_leaves_healthy_containers_alone(engine) -> None:
    info = engine.run(engine.spec("healthy", "sleep 30"))
    assert containers.sweep() == []
    assert containers.inspect(info.id).state is State.RUNNING
