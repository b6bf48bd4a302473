"""``pycompose start``: start existing containers in dependency order."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._simple import targets
from compose.orchestrator import labels as L

if TYPE_CHECKING:
    from compose.cli.commands._orch import Progress
    from compose.orchestrator.backend import Backend, ContainerRef
    from compose.orchestrator.client import Subscription


def register(app: typer.Typer) -> None:
    """Add the ``start`` command to ``app``."""
    app.command("start", help="Start services.")(start_command)


def start_containers(be: Backend, name: str, cs: list[ContainerRef], progress: Progress) -> int:
    """Start stopped containers, dependencies first (from the depends_on labels)."""
    from compose.orchestrator import client, state
    from compose.orchestrator.executor import Dependency, Executor, Node, Outcome

    client.ensure_supervisor(name)
    by_service: dict[str, list[ContainerRef]] = {}
    for c in cs:
        by_service.setdefault(c.labels.get(L.SERVICE, c.name), []).append(c)
    nodes = []
    for svc, group in by_service.items():
        deps = {d.split(":", 1)[0] for d in group[0].labels.get(L.DEPENDS_ON, "").split(",") if d}
        nodes.append(Node(svc, tuple(Dependency(d) for d in sorted(deps) if d in by_service)))

    def act(service: str) -> None:
        for c in by_service[service]:
            if c.running:
                continue
            progress(c.name, "Starting")
            state.update(c.id, stopped_by_user=False)
            be.start_container(c.id)
            client.watch(name, c.id)
            progress(c.name, "Started")

    runs = Executor(nodes, act).run()
    failed = [r for r in runs.values() if r.outcome is not Outcome.DONE]
    for r in failed:
        progress(r.name, f"Error: {r.reason}")
    return 1 if failed else 0


def start_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for services to be running|"
                                       "healthy.")] = False,
    wait_timeout: Annotated[float | None, typer.Option("--wait-timeout", metavar="SECONDS",
                                                       help="Maximum duration of the wait.")
                            ] = None,
) -> int:
    """Start the services' existing containers."""
    from compose.orchestrator import client

    be, name, cs, progress = targets(ctx, services)
    if not wait:
        return start_containers(be, name, cs, progress)
    client.ensure_supervisor(name)
    sub = client.Subscription(name)  # before starting: no health event is missed
    try:
        code = start_containers(be, name, cs, progress)
        return code or wait_ready(sub, [c.id for c in cs], wait_timeout)
    finally:
        sub.close()


def wait_ready(sub: Subscription, ids: list[str], timeout: float | None) -> int:
    """Like ``up --wait``: every container running, healthy when it has a healthcheck;
    1 when one exits or turns unhealthy, or when ``timeout`` passes first."""
    import threading

    from compose.cli import terminal
    from compose.orchestrator import state

    pending = {cid for cid in ids if (row := state.get(cid)) is not None
               and row.health is not None and row.health_status != "healthy"}
    timer = threading.Timer(timeout, sub.close) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        for ev in (sub if pending else ()):
            cid = ev.get("container")
            if cid in pending and ev.get("event") == "healthy":
                pending.discard(cid)
            elif cid in ids and ev.get("event") in ("unhealthy", "exited"):
                terminal.error(f"container {ev.get('name')} is {ev.get('event')}")
                return 1
            if not pending:
                return 0
    finally:
        if timer is not None:
            timer.cancel()
    if pending:
        terminal.error("timeout waiting for the services to be healthy")
        return 1
    return 0
