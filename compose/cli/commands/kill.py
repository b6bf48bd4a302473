"""``pycompose kill``: send a signal (default SIGKILL) to running containers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._simple import each, targets
from compose.orchestrator import labels as L

if TYPE_CHECKING:
    from compose.cli.commands._orch import Progress
    from compose.orchestrator.backend import Backend, ContainerRef

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

    code = each(cs, "Killing", "Killed", kill, progress)
    if remove_orphans:
        code = max(code, _remove_orphans(ctx, be, progress))
    return code


def _remove_orphans(ctx: typer.Context, be: Backend, progress: Progress) -> int:
    """Containers of services no longer in the compose file are removed (docker's
    ``kill --remove-orphans``)."""
    from compose.cli.commands._orch import containers_of, project_and_name
    from compose.orchestrator import state

    project, name = project_and_name(ctx, need_file=True)
    if project is None:
        return 0
    known = {*project.services, *project.disabled_services}
    orphans = [c for c in containers_of(be, name) if c.labels.get(L.SERVICE) not in known]

    def remove(c: ContainerRef) -> None:
        be.stop_container(c.id, 0)
        be.remove_container(c.id)
        state.delete(c.id)

    return each(orphans, "Removing", "Removed", remove, progress)
