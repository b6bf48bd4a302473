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
    """For each running container: its name, then its processes like ``ps -ef`` (docker's
    columns: UID PID PPID C STIME TTY TIME CMD)."""
    import time

    from compose.cli.commands._procrow import HEADERS, boot_time, ps_row, read_stat
    from engine import containers

    _be, _name, cs, _progress = targets(ctx, services, running=True)
    boot, now = boot_time(), time.time()
    for c in cs:
        rows = []
        for p in containers.top(c.id):
            stat = read_stat(p.pid)
            if stat is not None:
                rows.append(ps_row(p.uid, p.pid, p.ppid, p.command, stat, boot, now))
        terminal.line(c.name)
        terminal.write(terminal.table(HEADERS, rows))
        terminal.line()
    return 0
