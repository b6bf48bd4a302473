"""``pycompose start``: start existing containers in dependency order."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._simple import targets

if TYPE_CHECKING:
    from compose.cli.commands._orch import Progress
    from compose.orchestrator.backend import Backend, ContainerRef


def register(app: typer.Typer) -> None:
    """Add the ``start`` command to ``app``."""
    app.command("start", help="Start services.")(start_command)


def start_containers(be: Backend, name: str, cs: list[ContainerRef], progress: Progress) -> int:
    """Start stopped containers, dependencies first (compose.orchestrator.start); 1 on errors."""
    from compose.orchestrator.start import start_containers as start

    return 1 if start(be, name, cs, progress) else 0


def start_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
) -> int:
    """Start the services' existing containers."""
    be, name, cs, progress = targets(ctx, services)
    return start_containers(be, name, cs, progress)
