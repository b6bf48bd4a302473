"""``pycompose restart``: stop then start the services' containers."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._simple import targets

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
    be, name, cs, progress = targets(ctx, services)
    failures = stop_containers(be, [c for c in cs if c.running], timeout, progress)
    fresh = {c.id: c for c in be.list_containers(name)}
    code = start_containers(be, name, [fresh.get(c.id, c) for c in cs], progress)
    return 1 if failures else code


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
