"""``pycompose start``: start existing containers in dependency order."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._simple import hooks_of, targets

if TYPE_CHECKING:
    from compose.orchestrator.backend import Backend, ContainerRef
    from compose.orchestrator.client import Subscription
    from compose.orchestrator.hooks import Hooks


def register(app: typer.Typer) -> None:
    """Add the ``start`` command to ``app``."""
    app.command("start", help="Start services.")(start_command)


def start_containers(be: Backend, name: str, cs: list[ContainerRef],
                     progress: Callable[[str, str], None], hooks: Hooks | None = None) -> int:
    """Start stopped containers, dependencies first (compose.orchestrator.start); 1 on errors."""
    from compose.orchestrator.start import start_containers as start

    return 1 if start(be, name, cs, progress, hooks) else 0


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

    # docker compose starts what the named services depend on too
    be, name, cs, progress = targets(ctx, services, with_deps=True)
    hooks = hooks_of(ctx, services)
    if not wait:
        return start_containers(be, name, cs, progress, hooks)
    client.ensure_supervisor(name)
    sub = client.Subscription(name)  # before starting: no health event is missed
    try:
        code = start_containers(be, name, cs, progress, hooks)
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
