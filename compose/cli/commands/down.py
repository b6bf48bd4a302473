"""``pycompose down``: stop and remove containers, networks (volumes with -v, images with --rmi)."""
from __future__ import annotations

import os
from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import Progress, backend, check_services, project_and_name
from compose.cli.options import env_flag


def register(app: typer.Typer) -> None:
    """Add the ``down`` command to ``app``."""
    app.command("down", help="Stop and remove containers, networks.")(down_command)


def down_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="[SERVICE...]", help="Only "
                                                         "these services (and the ones that "
                                                         "depend on them).")] = None,
    volumes: Annotated[bool, typer.Option("-v", "--volumes", help="Remove named volumes "
                                          "declared in the volumes section and anonymous "
                                          "volumes.")] = False,
    rmi: Annotated[str | None, typer.Option("--rmi", metavar="TYPE",
                                            help="Remove images: local or all.")] = None,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans", help="Remove containers "
                                                 "for services not in the compose file.")] = False,
    timeout: Annotated[float | None, typer.Option("-t", "--timeout", metavar="SECONDS",
                                                  help="Shutdown timeout.")] = None,
) -> int:
    """Tear the project down; works from labels even without the compose file (-p NAME)."""
    from compose.orchestrator.down import DownOptions, run_down

    project, name = project_and_name(ctx, need_file=False)
    check_services(project, services or ())
    remove_orphans = remove_orphans or env_flag(
        os.environ if project is None else project.environment, "COMPOSE_REMOVE_ORPHANS")
    failures = run_down(project, name, backend(), DownOptions(volumes, rmi, remove_orphans,
                                                              timeout, tuple(services or ())),
                        Progress(ctx.obj.progress))
    for f in failures:
        terminal.error(f)
    return 1 if failures else 0
