"""``pycompose unpause``: thaw paused containers."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli.commands._simple import each, targets


def register(app: typer.Typer) -> None:
    """Add the ``unpause`` command to ``app``."""
    app.command("unpause", help="Unpause services.")(unpause_command)


def unpause_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
) -> int:
    """Thaw every paused container of the services."""
    be, _name, cs, progress = targets(ctx, services)
    cs = [c for c in cs if c.state == "paused"]
    return each(cs, "Unpausing", "Unpaused", lambda c: be.unpause_container(c.id), progress)
