"""``pycompose unpause``: thaw paused containers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._simple import each, targets
from compose.errors import ComposeError

if TYPE_CHECKING:
    from compose.orchestrator.backend import ContainerRef


def register(app: typer.Typer) -> None:
    """Add the ``unpause`` command to ``app``."""
    app.command("unpause", help="Unpause services.")(unpause_command)


def unpause_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
) -> int:
    """Thaw every paused container of the services."""
    be, _name, cs, progress = targets(ctx, services)
    cs = [c for c in cs if c.state in ("running", "paused")]

    def unpause(c: ContainerRef) -> None:
        if c.state != "paused":  # docker's daemon refuses it, and compose exits 1
            raise ComposeError(f"Container {c.id} is not paused")
        be.unpause_container(c.id)

    return each(cs, "Unpausing", "Unpaused", unpause, progress)
