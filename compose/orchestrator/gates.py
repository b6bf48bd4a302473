"""Waiting on conditions, docker compose style: progress lines while a dependent waits on a
dependency's condition, and what ``up --wait`` waits for.

For every ``depends_on`` entry with ``service_healthy`` or ``service_completed_successfully``
(not ``service_started``), compose prints ``Container <dep> Waiting`` for each container of the
dependency, then ``Healthy`` / ``Exited`` when the condition holds, or ``Error`` when it never
will; once per waiting dependent. Pure: fed executor events, writes through a reporter.
"""
from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable

from compose.orchestrator.executor import Condition, Event, EventKind, Node, ServiceRun

Reporter = Callable[[str, str], None]


def verdict(condition: Condition, event: Event) -> str | None:
    """The progress status ``event`` settles ``condition`` with, or None if it does not."""
    if condition is Condition.HEALTHY:
        if event.kind is EventKind.HEALTHY:
            return "Healthy"
        if event.kind in (EventKind.UNHEALTHY, EventKind.EXITED, EventKind.FAILED):
            return "Error"
        return None
    if condition is Condition.COMPLETED:
        if event.kind is EventKind.EXITED:
            return "Exited" if event.exit_code == 0 else "Error"
        if event.kind is EventKind.FAILED:
            return "Error"
    return None


class GateReporter:
    """Reports the waits of one ``up`` run (thread-safe)."""

    def __init__(self, nodes: Iterable[Node], report: Reporter) -> None:
        self._report = report
        self._lock = threading.Lock()
        # dependency → the conditions still awaited on it, one per waiting dependent
        self._pending: dict[str, list[Condition]] = {}
        for node in nodes:
            for dep in node.deps:
                if dep.condition is not Condition.STARTED:
                    self._pending.setdefault(dep.service, []).append(dep.condition)
        self._names: dict[str, tuple[str, ...]] = {}
        self._early: dict[str, list[Event]] = {}  # events seen before the service started

    def started(self, service: str, containers: Iterable[str]) -> None:
        """``service`` is started with these containers: the waits on it begin."""
        with self._lock:
            if service not in self._pending or service in self._names:
                return
            names = self._names[service] = tuple(containers)
            for _ in self._pending[service]:
                for name in names:
                    self._report(name, "Waiting")
            for event in self._early.pop(service, []):
                self._settle(event)

    def observe(self, event: Event) -> None:
        """An executor event: it may settle waits on its service."""
        with self._lock:
            if not self._pending.get(event.service):
                return
            if event.service not in self._names:
                self._early.setdefault(event.service, []).append(event)
                return
            self._settle(event)

    def _settle(self, event: Event) -> None:
        still: list[Condition] = []
        for condition in self._pending[event.service]:
            status = verdict(condition, event)
            if status is None:
                still.append(condition)
                continue
            for name in self._names[event.service]:
                self._report(name, status)
        self._pending[event.service] = still


# -- up --wait ---------------------------------------------------------------------------------

RUNNING_GRACE = 0.5  # a service without healthcheck counts as up once running this long
# (compose looks at it first 500 ms after starting the wait: one that exits at once fails)


class WaitKind(enum.Enum):
    HEALTHY = "healthy"  # it has a healthcheck
    RUNNING = "running"  # no healthcheck: running, and not exited
    COMPLETED = "completed"  # a dependency of someone with service_completed_successfully


def wait_kinds(services: Iterable[str], healthchecked: Iterable[str],
               completion_targets: Iterable[str]) -> dict[str, WaitKind]:
    """What ``--wait`` waits for per service: one-shots others need completed are waited for
    to complete (else --wait could never finish), the rest to be healthy or running."""
    checked, targets = set(healthchecked), set(completion_targets)
    return {n: WaitKind.COMPLETED if n in targets else
            WaitKind.HEALTHY if n in checked else WaitKind.RUNNING for n in services}


def wait_verdict(name: str, kind: WaitKind, run: ServiceRun, now: float
                 ) -> tuple[str, str] | None:
    """(progress status, failure reason or "") once settled; None while still waiting."""
    if kind is WaitKind.COMPLETED:
        if run.exited_at is None:
            return None
        if run.exit_code == 0:
            return "Exited", ""
        return "Error", f"service {name} didn't complete successfully: exit {run.exit_code}"
    if run.exited_at is not None:
        return "Error", f"{name} exited with code {run.exit_code}"
    if kind is WaitKind.HEALTHY:
        if run.healthy_at is not None:
            return "Healthy", ""
        if run.unhealthy is not None:
            return "Error", f"{name} is unhealthy: {run.unhealthy}".rstrip(": ")
        return None
    if run.started_at is not None and now - run.started_at >= RUNNING_GRACE:
        return "Healthy", ""
    return None
