"""``pycompose restart``: stop then start the services' containers."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli.commands._simple import hooks_of, targets


def register(app: typer.Typer) -> None:
    """Add the ``restart`` command to ``app``."""
    app.command("restart", help="Restart service containers.")(restart_command)


def restart_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    timeout: Annotated[float | None, typer.Option("-t", "--timeout", metavar="SECONDS")
                       ] = None,
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Don't restart dependencies.")
                       ] = False,
) -> int:
    """Restart (stop in reverse order, start in order) the selected containers."""
    from compose.cli.commands.start import start_containers
    from compose.orchestrator.down import stop_containers

    be, name, cs, progress = targets(ctx, services)
    hooks = hooks_of(ctx, services)
    failures = stop_containers(be, [c for c in cs if c.running], timeout, progress,
                               hooks=hooks)
    fresh = {c.id: c for c in be.list_containers(name)}
    code = start_containers(be, name, [fresh.get(c.id, c) for c in cs], progress, hooks)
    return 1 if failures else code
