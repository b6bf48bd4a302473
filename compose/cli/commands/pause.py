"""``pycompose pause``: freeze the services' running containers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._simple import each, targets
from compose.errors import ComposeError

if TYPE_CHECKING:
    from compose.orchestrator.backend import ContainerRef


def register(app: typer.Typer) -> None:
    """Add the ``pause`` command to ``app``."""
    app.command("pause", help="Pause services.")(pause_command)


def pause_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
) -> int:
    """Freeze every running container of the services (cgroup freezer)."""
    be, _name, cs, progress = targets(ctx, services)
    cs = [c for c in cs if c.state in ("running", "paused")]

    def pause(c: ContainerRef) -> None:
        if c.state == "paused":  # docker's daemon refuses it, and compose exits 1
            raise ComposeError(f"Container {c.id} is already paused")
        be.pause_container(c.id)

    return each(cs, "Pausing", "Paused", pause, progress)
