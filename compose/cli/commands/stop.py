"""``pycompose stop``: stop running containers (dependents first) without removing them."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._simple import hooks_of, targets


def register(app: typer.Typer) -> None:
    """Add the ``stop`` command to ``app``."""
    app.command("stop", help="Stop services.")(stop_command)


def stop_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    timeout: Annotated[float | None, typer.Option("-t", "--timeout", metavar="SECONDS")
                       ] = None,
) -> int:
    """Stop the services' containers in reverse dependency order."""
    from compose.orchestrator.down import stop_containers

    be, _name, cs, progress = targets(ctx, services)
    failures = stop_containers(be, cs, timeout, progress, hooks=hooks_of(ctx, services))
    for f in failures:
        terminal.error(f)
    return 1 if failures else 0
