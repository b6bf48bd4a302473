"""Waiting on health events, and the diagnostics report of a stack."""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from compose.api.errors import ServiceError, StackError, WaitTimeout

if TYPE_CHECKING:
    from compose.api.project import Project


def wait_healthy(project: str, service: str, ids: Sequence[str], timeout: float | None) -> None:
    """Block until every container in ``ids`` is healthy. Subscribes to the supervisor's
    events before reading the recorded status, so no transition is missed; a timer closes
    the subscription at the deadline (no polling)."""
    from compose.orchestrator import client, state

    client.ensure_supervisor(project)
    sub = client.Subscription(project)
    timer = threading.Timer(timeout, sub.close) if timeout is not None else None
    try:
        pending = set(ids)
        for cid in ids:
            row = state.get(cid)
            if row is None or row.health is None:
                raise ServiceError(f"service {service!r} has no healthcheck")
            _settle(service, pending, cid, row.health_status, row.health_output)
        if timer is not None:
            timer.start()
        for ev in sub if pending else ():
            cid = str(ev.get("container"))
            if cid not in pending:
                continue
            kind = str(ev.get("event"))
            if kind == "exited" and not ev.get("will_restart"):
                raise StackError(f"service {service!r} exited with code "
                                 f"{ev.get('exit_code')} before it was healthy")
            _settle(service, pending, cid, kind, str(ev.get("detail") or ""))
            if not pending:
                return
        if pending:
            raise WaitTimeout(f"timed out after {timeout}s waiting for {service} to be healthy",
                              [f"{service}: not healthy"])
    finally:
        if timer is not None:
            timer.cancel()
        sub.close()


def _settle(service: str, pending: set[str], cid: str, status: str, detail: str) -> None:
    if status == "healthy":
        pending.discard(cid)
    elif status == "unhealthy":
        raise StackError(f"service {service!r} is unhealthy" + (f": {detail}" if detail else ""),
                         [f"{service}: unhealthy"])


def diagnostics(project: Project, tail: int) -> str:
    """``ps`` of the project, then the last ``tail`` lines of each service's output."""
    rows = project.ps()
    lines = [f"project {project.name}"]
    head = ("NAME", "SERVICE", "STATE", "HEALTH", "EXIT CODE")
    table = [head] + [(r.name, r.service, r.state, r.health or "-",
                       "-" if r.exit_code is None else str(r.exit_code)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
              for row in table]
    for service in dict.fromkeys(r.service for r in rows):
        lines.append(f"--- logs of {service} (last {tail} lines) ---")
        lines.append(project.logs(service, tail=tail).rstrip("\n"))
    return "\n".join(lines) + "\n"
