"""Per-container supervisor events → per-service executor events (replicas aggregated)."""
from __future__ import annotations

import time

from compose.orchestrator.executor import Condition, Dependency, Executor, Node
from compose.orchestrator.up import _Aggregator


def ev(kind: str, cid: str, code: int | None = None, detail: str = "") -> dict[str, object]:
    return {"event": kind, "container": cid, "exit_code": code, "detail": detail,
            "time": time.time()}


def test_service_is_healthy_only_when_every_replica_is() -> None:
    ex = Executor([Node("db"), Node("api", (Dependency("db", Condition.HEALTHY),))],
                  lambda n: None)
    agg = _Aggregator(ex)
    agg.register("db", "c1")
    agg.register("db", "c2")
    agg.feed(ev("healthy", "c1"))
    assert ex.snapshot()["db"].healthy_at is None
    agg.feed(ev("healthy", "c2"))
    assert ex.snapshot()["db"].healthy_at is not None
    agg.feed(ev("healthy", "unknown"))  # other containers of the project are ignored


def test_exit_code_is_the_first_failure_once_all_exited() -> None:
    ex = Executor([Node("job")], lambda n: None)
    agg = _Aggregator(ex)
    agg.register("job", "a")
    agg.register("job", "b")
    agg.feed(ev("exited", "a", 0))
    assert ex.snapshot()["job"].exited_at is None
    agg.feed(ev("exited", "b", 4))
    run = ex.snapshot()["job"]
    assert run.exited_at is not None and run.exit_code == 4


def test_unhealthy_carries_probe_output() -> None:
    ex = Executor([Node("db")], lambda n: None)
    agg = _Aggregator(ex)
    agg.register("db", "c1")
    agg.feed(ev("unhealthy", "c1", detail="refused"))
    assert ex.snapshot()["db"].unhealthy == "refused"


def test_an_exit_its_restart_policy_undoes_is_not_an_exit() -> None:
    ex = Executor([Node("web")], lambda n: None)
    agg = _Aggregator(ex)
    agg.register("web", "c1")
    agg.feed({**ev("exited", "c1", 1), "will_restart": True})
    assert ex.snapshot()["web"].exited_at is None
    agg.feed({**ev("exited", "c1", 1), "will_restart": False})
    assert ex.snapshot()["web"].exit_code == 1
