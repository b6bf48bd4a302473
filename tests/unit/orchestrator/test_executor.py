"""The dependency-aware executor, driven by a fake engine that emits events."""
from __future__ import annotations

import threading
from collections.abc import Callable

from compose.orchestrator.executor import (
    Condition,
    Dependency,
    Event,
    EventKind,
    Executor,
    Node,
    Outcome,
    critical_path,
)


class FakeEngine:
    """Records the order of actions; `behaviour` decides what events each start produces."""

    def __init__(self, behaviour: dict[str, Callable[[Executor, str], None]] | None = None):
        self.order: list[str] = []
        self.behaviour = behaviour or {}
        self.executor: Executor | None = None
        self.lock = threading.Lock()

    def action(self, name: str) -> None:
        with self.lock:
            self.order.append(name)
        assert self.executor is not None
        self.executor.notify(Event(name, EventKind.STARTED))
        if name in self.behaviour:
            self.behaviour[name](self.executor, name)


def healthy(ex: Executor, name: str) -> None:
    threading.Thread(target=ex.notify, args=(Event(name, EventKind.HEALTHY),)).start()


def exits(code: int) -> Callable[[Executor, str], None]:
    def emit(ex: Executor, name: str) -> None:
        ex.notify(Event(name, EventKind.EXITED, exit_code=code))
    return emit


def stack() -> list[Node]:
    return [
        Node("db"),
        Node("migrate", (Dependency("db", Condition.HEALTHY),)),
        Node("api", (Dependency("db", Condition.HEALTHY),
                     Dependency("migrate", Condition.COMPLETED))),
        Node("web", (Dependency("api"),)),
    ]


def run(nodes: list[Node], engine: FakeEngine, **kw: object) -> dict:
    ex = Executor(nodes, engine.action, **kw)  # type: ignore[arg-type]
    engine.executor = ex
    return ex.run(timeout=10)


def test_three_level_stack_starts_in_order() -> None:
    engine = FakeEngine({"db": healthy, "migrate": exits(0)})
    runs = run(stack(), engine)
    assert engine.order == ["db", "migrate", "api", "web"]
    assert all(r.outcome is Outcome.DONE for r in runs.values())
    assert runs["api"].gated_by == "migrate"
    assert critical_path(runs) == ["db", "migrate", "api", "web"]


def test_failing_migrate_blocks_dependents_with_reason() -> None:
    engine = FakeEngine({"db": healthy, "migrate": exits(1)})
    runs = run(stack(), engine)
    assert engine.order == ["db", "migrate"]
    assert runs["api"].outcome is Outcome.BLOCKED
    assert runs["api"].reason == 'service "migrate" didn\'t complete successfully: exit 1'
    assert runs["web"].outcome is Outcome.BLOCKED  # docker compose's wording, one prefix
    assert runs["web"].reason == ('dependency failed to start: service "migrate" didn\'t '
                                  "complete successfully: exit 1")


def test_unhealthy_dependency_reason_has_probe_output() -> None:
    def unhealthy(ex: Executor, name: str) -> None:
        ex.notify(Event(name, EventKind.UNHEALTHY, detail="connection refused"))
    runs = run(stack(), FakeEngine({"db": unhealthy}))
    assert runs["migrate"].reason == (
        "dependency failed to start: container db is unhealthy: connection refused")


def test_optional_dependency_failure_only_warns() -> None:
    def boom(name: str) -> None:
        if name == "cache":
            raise RuntimeError("no image")
    nodes = [Node("cache"), Node("app", (Dependency("cache", required=False),))]
    started: list[str] = []
    ex = Executor(nodes, lambda n: (boom(n), started.append(n)) and None)
    runs = ex.run(timeout=10)
    assert runs["cache"].outcome is Outcome.FAILED
    assert "cache failed: no image" == runs["cache"].reason
    assert runs["app"].outcome is Outcome.DONE
    assert runs["app"].warnings and "cache" in runs["app"].warnings[0]


def test_independent_services_run_in_parallel() -> None:
    barrier = threading.Barrier(3, timeout=5)
    ex = Executor([Node("a"), Node("b"), Node("c")], lambda n: barrier.wait() and None)
    runs = ex.run(timeout=10)  # a barrier of 3 only passes when all three run at once
    assert {r.outcome for r in runs.values()} == {Outcome.DONE}


def test_reverse_runs_dependents_first() -> None:
    order: list[str] = []
    ex = Executor(stack(), order.append, reverse=True, max_workers=1)
    ex.run(timeout=10)
    assert order.index("web") < order.index("api") < order.index("migrate") < order.index("db")


def test_reverse_continues_after_failure() -> None:
    order: list[str] = []

    def stop(name: str) -> None:
        order.append(name)
        if name == "web":
            raise RuntimeError("stuck")
    runs = Executor(stack(), stop, reverse=True).run(timeout=10)
    assert runs["web"].outcome is Outcome.FAILED
    assert set(order) == {"web", "api", "migrate", "db"}


def test_timeout_blocks_services_waiting_for_health() -> None:
    runs = Executor(stack(), lambda n: None).run(timeout=0.2)
    assert runs["db"].outcome is Outcome.DONE
    assert runs["migrate"].outcome is Outcome.BLOCKED
    assert "timed out" in runs["migrate"].reason


def test_exit_before_healthy_fails_dependents() -> None:
    runs = run(stack(), FakeEngine({"db": exits(3)}))
    assert runs["migrate"].reason == "dependency failed to start: container db exited (3)"


def test_cancel_marks_pending_services() -> None:
    ex: Executor

    def action(name: str) -> None:
        ex.cancel()
    ex = Executor(stack(), action)
    runs = ex.run(timeout=10)
    assert runs["db"].outcome is Outcome.DONE
    assert runs["migrate"].outcome is Outcome.CANCELLED


def test_missing_dependency_is_reported() -> None:
    runs = Executor([Node("app", (Dependency("ghost"),))], lambda n: None).run(timeout=5)
    assert runs["app"].outcome is Outcome.BLOCKED
    assert "ghost is not part of this run" in runs["app"].reason
