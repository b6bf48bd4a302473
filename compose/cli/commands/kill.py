"""``pycompose kill``: send a signal (default SIGKILL) to running containers."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli.commands._simple import each, targets

# Signals that end a container the user means to stop: the restart policy must not undo them.
_STOPPING = {"SIGKILL", "KILL", "9", "SIGTERM", "TERM", "15", "SIGINT", "INT", "2"}


def register(app: typer.Typer) -> None:
    """Add the ``kill`` command to ``app``."""
    app.command("kill", help="Force stop service containers.")(kill_command)


def kill_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    sig: Annotated[str, typer.Option("-s", "--signal", metavar="SIGNAL")] = "SIGKILL",
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
) -> int:
    """Signal every running container of the services."""
    from compose.orchestrator import state

    be, _name, cs, progress = targets(ctx, services, running=True)

    def kill(c):  # type: ignore[no-untyped-def]
        if sig.upper() in _STOPPING:
            state.update(c.id, stopped_by_user=True)
        be.kill_container(c.id, sig.upper() if not sig.isdigit() else sig)

    return each(cs, "Killing", "Killed", kill, progress)
