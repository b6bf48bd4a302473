"""``pycompose wait``: block until the services' containers stop; print their exit codes."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._simple import targets


def register(app: typer.Typer) -> None:
    """Add the ``wait`` command to ``app``."""
    app.command("wait", help="Block until containers of all (or specified) services stop, "
                "then print their exit codes.")(wait_command)


def wait_command(
    ctx: typer.Context,
    services: Annotated[list[str], typer.Argument(metavar="SERVICE...")],
    down_project: Annotated[bool, typer.Option("--down-project", help="Drop the project "
                                               "once the first container stops.")] = False,
) -> int:
    """Wait for each container (blocking on the engine, no polling) and print exit codes."""
    from compose.orchestrator.down import DownOptions, run_down

    be, name, cs, progress = targets(ctx, services)
    code = 0
    for c in cs:
        code = be.wait_container(c.id)
        terminal.line(str(code))
        if down_project:
            run_down(None, name, be, DownOptions(), progress)
            break
    return code
