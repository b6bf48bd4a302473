"""``pycompose restart``: stop then start the services' containers."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._simple import hooks_of, targets

if TYPE_CHECKING:
    from compose.config.model import Project


def register(app: typer.Typer) -> None:
    """Add the ``restart`` command to ``app``."""
    app.command("restart", help="Restart service containers.")(restart_command)


def restart_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    timeout: Annotated[float | None, typer.Option("-t", "--timeout", metavar="SECONDS")
                       ] = None,
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Don't restart dependent "
                                          "services (depends_on with restart: true).")
                       ] = False,
) -> int:
    """Restart (stop in reverse order, start in order) the selected containers."""
    from compose.cli.commands.start import start_containers
    from compose.orchestrator.down import stop_containers

    if services and not no_deps:
        from compose.cli.commands._orch import project_and_name

        project, _ = project_and_name(ctx, services, need_file=False)
        if project is not None:
            services = restart_dependents(project, services)
    be, name, cs, plain = targets(ctx, services)
    progress = _as_restart(plain)
    hooks = hooks_of(ctx, services)
    failures = stop_containers(be, [c for c in cs if c.running], timeout, progress,
                               hooks=hooks)
    fresh = {c.id: c for c in be.list_containers(name)}
    code = start_containers(be, name, [fresh.get(c.id, c) for c in cs], progress, hooks)
    return 1 if failures else code


def _as_restart(progress: Callable[[str, str], None]) -> Callable[[str, str], None]:
    """docker compose's restart events: each container ``Restarting`` then ``Started`` (the
    stop and start steps in between are not shown)."""
    announced: set[str] = set()

    def report(obj: str, status: str) -> None:
        if status in ("Stopping", "Starting"):
            if obj not in announced:
                announced.add(obj)
                progress(obj, "Restarting")
        elif status != "Stopped":
            progress(obj, status)

    return report


def restart_dependents(project: Project, services: list[str]) -> list[str]:
    """docker compose's rule: restarting a service also restarts the services that depend
    on it with ``restart: true`` (transitively); --no-deps restarts the named ones only."""
    chosen = list(dict.fromkeys(services))
    grew = True
    while grew:
        grew = False
        for name, svc in project.services.items():
            if name not in chosen and any(dep in chosen and cond.restart
                                          for dep, cond in svc.depends_on.items()):
                chosen.append(name)
                grew = True
    return chosen
