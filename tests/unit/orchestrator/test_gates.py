"""Progress of the waits on dependency conditions and what ``up --wait`` waits for."""
from __future__ import annotations

from compose.orchestrator.executor import (
    Condition,
    Dependency,
    Event,
    EventKind,
    Node,
    ServiceRun,
)
from compose.orchestrator.gates import GateReporter, WaitKind, wait_kinds, wait_verdict


def reporter() -> tuple[list[tuple[str, str]], GateReporter]:
    lines: list[tuple[str, str]] = []
    nodes = [Node("db"), Node("migrate", (Dependency("db", Condition.HEALTHY),)),
             Node("api", (Dependency("db", Condition.HEALTHY),
                          Dependency("migrate", Condition.COMPLETED))),
             Node("web", (Dependency("api"),))]
    return lines, GateReporter(nodes, lambda obj, status: lines.append((obj, status)))


def test_each_waiting_dependent_sees_waiting_then_healthy() -> None:
    lines, gates = reporter()
    gates.started("db", ["p-db-1", "p-db-2"])
    assert lines == [("p-db-1", "Waiting"), ("p-db-2", "Waiting")] * 2
    lines.clear()
    gates.observe(Event("db", EventKind.HEALTHY))
    gates.observe(Event("db", EventKind.HEALTHY))  # settled once per dependent
    assert lines == [("p-db-1", "Healthy"), ("p-db-2", "Healthy")] * 2
    gates.started("api", ["p-api-1"])  # service_started: compose prints no wait
    gates.observe(Event("api", EventKind.HEALTHY))
    assert len(lines) == 4


def test_completion_and_failures() -> None:
    lines, gates = reporter()
    gates.observe(Event("migrate", EventKind.EXITED, exit_code=0))  # before the start report
    assert lines == []
    gates.started("migrate", ["p-migrate-1"])
    assert lines == [("p-migrate-1", "Waiting"), ("p-migrate-1", "Exited")]
    lines.clear()
    gates.started("db", ["p-db-1"])
    gates.observe(Event("db", EventKind.UNHEALTHY, detail="refused"))
    assert lines == [("p-db-1", "Waiting")] * 2 + [("p-db-1", "Error")] * 2


def test_wait_kinds_follow_compose() -> None:
    kinds = wait_kinds(["db", "migrate", "web"], healthchecked=["db", "migrate"],
                       completion_targets=["migrate"])
    assert kinds == {"db": WaitKind.HEALTHY, "migrate": WaitKind.COMPLETED,
                     "web": WaitKind.RUNNING}


def test_wait_verdicts() -> None:
    run = ServiceRun("web", started_at=10.0)
    assert wait_verdict("web", WaitKind.RUNNING, run, 10.1) is None  # not long enough yet
    assert wait_verdict("web", WaitKind.RUNNING, run, 10.6) == ("Healthy", "")
    run.exited_at, run.exit_code = 10.2, 0
    assert wait_verdict("web", WaitKind.RUNNING, run, 10.6) == (
        "Error", "web exited with code 0")  # even exit 0 fails --wait, like compose
    assert wait_verdict("web", WaitKind.COMPLETED, run, 10.6) == ("Exited", "")
    run.exit_code = 3
    assert wait_verdict("web", WaitKind.COMPLETED, run, 10.6) == (
        "Error", "service web didn't complete successfully: exit 3")
    db = ServiceRun("db", started_at=1.0)
    assert wait_verdict("db", WaitKind.HEALTHY, db, 50.0) is None
    db.unhealthy = "refused"
    assert wait_verdict("db", WaitKind.HEALTHY, db, 50.0) == ("Error", "db is unhealthy: refused")
    db.healthy_at, db.unhealthy = 2.0, None
    assert wait_verdict("db", WaitKind.HEALTHY, db, 50.0) == ("Healthy", "")
