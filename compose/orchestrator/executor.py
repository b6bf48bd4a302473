"""One dependency-aware executor, run forward for ``up`` and in reverse for ``down``/``stop``.

Forward: a service's action (create + start its containers) runs on a worker thread the moment
every ``depends_on`` condition of it holds. Conditions are fed by events (``notify``): the action
itself reports ``STARTED``; the supervisor's health checker and exit watcher report ``HEALTHY``,
``UNHEALTHY`` and ``EXITED``. The scheduler sleeps on a condition variable between events — no
polling delay — so a dependent is launched within the time it takes to wake one thread.

A failed dependency marks its dependents failed with a reason ("db is unhealthy: <output>",
"migrate exited with code 1") instead of aborting everything; ``required: false`` dependencies
only produce a warning.

Reverse: a service's action (stop/remove) runs once every service depending on it has finished.
"""
from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class Condition(enum.Enum):
    """A ``depends_on`` condition."""

    STARTED = "service_started"
    HEALTHY = "service_healthy"
    COMPLETED = "service_completed_successfully"


@dataclass(frozen=True, slots=True)
class Dependency:
    """One ``depends_on`` entry of a service."""

    service: str
    condition: Condition = Condition.STARTED
    required: bool = True
    restart: bool = False


@dataclass(frozen=True, slots=True)
class Node:
    """A service in the graph the executor walks."""

    name: str
    deps: tuple[Dependency, ...] = ()


class EventKind(enum.Enum):
    """What happened to a service (fed to :meth:`Executor.notify`)."""

    STARTED = "started"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    EXITED = "exited"
    FAILED = "failed"  # the action raised, or the service could not start


@dataclass(frozen=True, slots=True)
class Event:
    """An event about one service; ``detail`` is probe output or an error message."""

    service: str
    kind: EventKind
    exit_code: int | None = None
    detail: str = ""
    at: float = field(default_factory=time.monotonic)


class Outcome(enum.Enum):
    """Where a service ended up after the run."""

    DONE = "done"  # the action completed
    FAILED = "failed"  # the action itself failed
    BLOCKED = "blocked"  # a dependency failed; the action never ran
    CANCELLED = "cancelled"  # the run was cancelled before the action ran


@dataclass(slots=True)
class ServiceRun:
    """Mutable bookkeeping for one service during a run (owned by the executor's lock)."""

    name: str
    outcome: Outcome | None = None
    reason: str = ""
    launched_at: float | None = None
    finished_at: float | None = None
    started_at: float | None = None
    healthy_at: float | None = None
    exited_at: float | None = None
    exit_code: int | None = None
    unhealthy: str | None = None
    gated_by: str | None = None  # the dependency whose condition held last (critical path)
    ready_at: float | None = None  # when all conditions held
    warnings: list[str] = field(default_factory=list)


Action = Callable[[str], None]
_PREFIX = "dependency failed to start: "


class Executor:
    """Walk a service graph, running ``action(service)`` in dependency order on threads."""

    def __init__(self, nodes: Iterable[Node], action: Action, *, reverse: bool = False,
                 max_workers: int = 16, describe: Callable[[str], str] | None = None) -> None:
        self._nodes: dict[str, Node] = {n.name: n for n in nodes}
        # the container a failure message names for a service (docker compose's wording)
        self._describe = describe or (lambda service: service)
        self.no_healthcheck: set[str] = set()  # services whose containers have none
        self._action = action
        self._reverse = reverse
        self._max_workers = max(1, max_workers)
        self._cond = threading.Condition()
        self._runs: dict[str, ServiceRun] = {name: ServiceRun(name) for name in self._nodes}
        self._dependents = _dependents_of(self._nodes)
        self._cancelled = False
        # Services whose bookkeeping changed since the scheduler last looked, and the waiting
        # services it has looked at: a waiting service is looked at again only when one of its
        # dependencies changed (50 services on 10 dependencies each made every event cost
        # thousands of condition checks).
        self._changed: set[str] = set()
        self._checked: set[str] = set()

    # -- events --------------------------------------------------------------------------------

    def notify(self, event: Event) -> None:
        """Record an event about a service and wake the scheduler (thread-safe)."""
        with self._cond:
            run = self._runs.get(event.service)
            if run is None:
                return
            _apply_event(run, event)
            self._changed.add(event.service)
            self._cond.notify_all()

    def cancel(self) -> None:
        """Stop launching new actions; running ones finish (used on Ctrl-C / abort)."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    # -- running -------------------------------------------------------------------------------

    def run(self, timeout: float | None = None) -> dict[str, ServiceRun]:
        """Run every action in order; return the per-service bookkeeping.

        Returns when each service has an outcome. With ``timeout`` (seconds), services still
        waiting for a condition at the deadline are marked BLOCKED with a timeout reason.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with ThreadPoolExecutor(self._max_workers, thread_name_prefix="svc") as pool:
            with self._cond:
                while not self._all_decided():
                    for name in self._launchable():
                        self._runs[name].launched_at = time.monotonic()
                        pool.submit(self._run_action, name)
                    if self._all_decided():
                        break
                    if self._changed:
                        continue  # a verdict of this pass bears on services waiting on it
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        self._expire()
                        continue
                    self._cond.wait(remaining)
        return dict(self._runs)

    def snapshot(self) -> dict[str, ServiceRun]:
        """Return the current bookkeeping (for progress views)."""
        with self._cond:
            return dict(self._runs)

    def wait_for(self, predicate: Callable[[Mapping[str, ServiceRun]], bool],
                 timeout: float | None = None) -> bool:
        """Block until ``predicate(runs)`` holds (re-checked on every event) or timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self._runs), timeout)

    def _run_action(self, name: str) -> None:
        try:
            self._action(name)
        except Exception as exc:  # the action's failure is this service's outcome
            log.debug("action for %s failed", name, exc_info=True)
            with self._cond:
                run = self._runs[name]
                run.outcome, run.reason = Outcome.FAILED, f"{name} failed: {exc}"
                run.finished_at = time.monotonic()
                self._changed.add(name)
                self._cond.notify_all()
            return
        with self._cond:
            run = self._runs[name]
            run.outcome = Outcome.DONE
            run.finished_at = time.monotonic()
            if not self._reverse and run.started_at is None:
                run.started_at = run.finished_at
            self._changed.add(name)
            self._cond.notify_all()

    def _all_decided(self) -> bool:
        return all(r.outcome is not None for r in self._runs.values())

    def _expire(self) -> None:
        for run in self._runs.values():
            if run.outcome is None and run.launched_at is None:
                run.outcome, run.reason = Outcome.BLOCKED, f"{run.name}: timed out waiting for deps"

    def _launchable(self) -> list[str]:
        ready: list[str] = []
        changed, self._changed = self._changed, set()
        for name, run in self._runs.items():
            if run.outcome is not None or run.launched_at is not None:
                continue
            if self._cancelled:
                run.outcome, run.reason = Outcome.CANCELLED, "cancelled"
                continue
            if self._reverse:
                if all(self._runs[d].outcome is not None for d in self._dependents[name]):
                    ready.append(name)
                continue
            if name in self._checked and not any(d.service in changed
                                                 for d in self._nodes[name].deps):
                continue  # nothing it waits for has changed
            self._checked.add(name)
            verdict = self._check_deps(name)
            if verdict is True:
                run.ready_at = time.monotonic()
                ready.append(name)
            elif isinstance(verdict, str):
                run.outcome, run.reason = Outcome.BLOCKED, verdict
                self._changed.add(name)  # its dependents are looked at again at once
        return ready

    def _check_deps(self, name: str) -> bool | str | None:
        """True when every condition holds; a reason string when one can never hold; else None."""
        run = self._runs[name]
        waiting = False
        held: list[tuple[Dependency, ServiceRun | None]] = []
        for dep in self._nodes[name].deps:
            target = self._runs.get(dep.service)
            state = _condition_state(dep, target, self._describe(dep.service),
                                     dep.service in self.no_healthcheck)
            if isinstance(state, str):
                if dep.required:  # a reason inherited from further up keeps its one prefix
                    return _required_failure(dep, state)
                warning = _optional_warning(dep, state)
                if warning not in run.warnings:
                    run.warnings.append(warning)
                    log.warning("%s", warning)
                continue
            if state is None:
                waiting = True
            else:
                held.append((dep, target))
        if waiting:  # looked at again on the next change of a dependency
            return None
        best = _held_at_name(self, run)
        for dep, target in held:
            moment = _held_at(dep, target)
            if run.gated_by is None or moment >= best:
                run.gated_by, best = dep.service, moment
        return True


def _held_at_name(executor: Executor, run: ServiceRun) -> float:
    if run.gated_by is None:
        return float("-inf")
    node = executor._nodes[run.name]
    dep = next(d for d in node.deps if d.service == run.gated_by)
    return _held_at(dep, executor._runs.get(dep.service))


def _held_at(dep: Dependency, target: ServiceRun | None) -> float:
    """When the condition of ``dep`` came to hold (for the critical path)."""
    if target is None:
        return float("-inf")
    moment = {Condition.STARTED: target.started_at, Condition.HEALTHY: target.healthy_at,
              Condition.COMPLETED: target.exited_at}[dep.condition]
    return moment if moment is not None else float("-inf")


def _required_failure(dep: Dependency, state: str) -> str:
    """The reason a dependent is blocked, worded like docker compose (``dependency failed to
    start: container X is unhealthy``; a failed completion is reported as it is)."""
    if state.startswith(_PREFIX) or (dep.condition is Condition.COMPLETED
                                     and state.startswith("service ")):
        return state
    return f"{_PREFIX}{state}"


def _optional_warning(dep: Dependency, state: str) -> str:
    """docker compose's warning for a ``required: false`` dependency that did not hold."""
    if dep.condition is Condition.COMPLETED and state.startswith("service "):
        return f"optional dependency {state.removeprefix('service ')}"
    return f'optional dependency "{dep.service}" failed to start: {state}'


def _condition_state(dep: Dependency, target: ServiceRun | None, container: str = "",
                     no_healthcheck: bool = False) -> bool | str | None:
    """True when the condition holds, a failure reason when it never will, None to wait.
    ``container`` names the dependency's container in the reason, like docker compose."""
    container = container or dep.service
    if target is None:
        return f"service {dep.service} is not part of this run"
    if target.outcome in (Outcome.FAILED, Outcome.BLOCKED, Outcome.CANCELLED):
        return target.reason or f"{dep.service} did not start"
    if dep.condition is Condition.STARTED:
        return True if target.started_at is not None else None
    if dep.condition is Condition.HEALTHY:
        if target.healthy_at is not None:
            return True
        if target.exited_at is not None:
            return f"container {container} exited ({target.exit_code})"
        if target.unhealthy is not None:
            return f"container {container} is unhealthy: {target.unhealthy}".rstrip(": ")
        if no_healthcheck and target.started_at is not None:
            return f"container {container} has no healthcheck configured"
        return None
    if target.exited_at is not None:
        if target.exit_code == 0:
            return True
        return f'service "{dep.service}" didn\'t complete successfully: exit {target.exit_code}'
    return None


def _apply_event(run: ServiceRun, event: Event) -> None:
    if event.kind is EventKind.STARTED:
        run.started_at = run.started_at or event.at
    elif event.kind is EventKind.HEALTHY:
        run.healthy_at, run.unhealthy = run.healthy_at or event.at, None
    elif event.kind is EventKind.UNHEALTHY:
        if run.healthy_at is None:
            run.unhealthy = event.detail
    elif event.kind is EventKind.EXITED:
        run.exited_at, run.exit_code = event.at, event.exit_code
    elif event.kind is EventKind.FAILED and run.outcome is None:
        run.outcome, run.reason = Outcome.FAILED, event.detail or f"{run.name} failed"


def _dependents_of(nodes: Mapping[str, Node]) -> dict[str, list[str]]:
    dependents: dict[str, list[str]] = {name: [] for name in nodes}
    for node in nodes.values():
        for dep in node.deps:
            if dep.service in dependents:
                dependents[dep.service].append(node.name)
    return dependents


def critical_path(runs: Mapping[str, ServiceRun]) -> list[str]:
    """Return the chain of services that gated the last service to become ready, first first."""
    finished = [r for r in runs.values() if r.finished_at is not None]
    if not finished:
        return []
    last = max(finished, key=lambda r: r.healthy_at or r.started_at or r.finished_at or 0.0)
    path = [last.name]
    seen = {last.name}
    while (gate := runs[path[-1]].gated_by) is not None and gate in runs and gate not in seen:
        path.append(gate)
        seen.add(gate)
    return list(reversed(path))
