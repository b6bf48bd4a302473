"""``pycompose pause``: freeze the services' running containers."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli.commands._simple import each, targets


def register(app: typer.Typer) -> None:
    """Add the ``pause`` command to ``app``."""
    app.command("pause", help="Pause services.")(pause_command)


def pause_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
) -> int:
    """Freeze every running container of the services (cgroup freezer)."""
    be, _name, cs, progress = targets(ctx, services)
    cs = [c for c in cs if c.state == "running"]
    return each(cs, "Pausing", "Paused", lambda c: be.pause_container(c.id), progress)
