"""``pycompose top``: the processes of each running container."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._simple import targets


def register(app: typer.Typer) -> None:
    """Add the ``top`` command to ``app``."""
    app.command("top", help="Display the running processes.")(top_command)


def top_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
) -> int:
    """For each running container: its name, then a UID/PID/PPID/CMD table."""
    from engine import containers

    _be, _name, cs, _progress = targets(ctx, services, running=True)
    for c in cs:
        procs = containers.top(c.id)
        terminal.line(c.name)
        rows = [[str(p.uid), str(p.pid), str(p.ppid), p.command] for p in procs]
        terminal.write(terminal.table(("UID", "PID", "PPID", "CMD"), rows))
        terminal.line()
    return 0
