"""``pycompose rm``: remove stopped service containers."""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._simple import each, targets


def register(app: typer.Typer) -> None:
    """Add the ``rm`` command to ``app``."""
    app.command("rm", help="Removes stopped service containers.")(rm_command)


def rm_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    force: Annotated[bool, typer.Option("-f", "--force", help="Don't ask to confirm.")] = False,
    stop: Annotated[bool, typer.Option("-s", "--stop", help="Stop the containers first.")
                    ] = False,
    volumes: Annotated[bool, typer.Option("-v", "--volumes", help="Remove anonymous volumes.")
                       ] = False,
) -> int:
    """Remove the services' stopped containers (with -s, stop running ones first)."""
    from compose.orchestrator import state
    from compose.orchestrator.down import stop_containers

    be, name, cs, progress = targets(ctx, services)
    if stop:
        stop_containers(be, [c for c in cs if c.running], None, progress)
        cs = [c for c in be.list_containers(name) if c.id in {x.id for x in cs}]
    cs = [c for c in cs if not c.running]
    if not cs:
        terminal.line("No stopped containers")
        return 0
    if not force and sys.stdin.isatty():
        names = ", ".join(c.name for c in cs)
        if not typer.confirm(f"Going to remove {names}\nAre you sure?", default=False):
            return 0

    def remove(c):  # type: ignore[no-untyped-def]
        be.remove_container(c.id)
        state.delete(c.id)
        if volumes:
            for vol in be.list_volumes(name):
                from engine import volumes as engine_volumes

                v = engine_volumes.inspect_volume(vol)
                if v.anonymous and v.labels.get("container") == c.name:
                    be.remove_volume(vol)

    code = each(cs, "Removing", "Removed", remove, progress)
    return code
