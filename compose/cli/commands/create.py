"""``pycompose create``: create the containers without starting them."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import Progress, backend
from compose.cli.commands.up import _parse_scale, quiet_steps
from compose.cli.options import apply_pull_flag, env_flag, noop
from compose.errors import ComposeError


def register(app: typer.Typer) -> None:
    """Add the ``create`` command to ``app``."""
    app.command("create", help="Creates containers for a service.")(create_command)


def create_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    build: Annotated[bool, typer.Option("--build")] = False,
    no_build: Annotated[bool, typer.Option("--no-build")] = False,
    pull: Annotated[str, typer.Option("--pull", metavar="POLICY")] = "policy",
    force_recreate: Annotated[bool, typer.Option("--force-recreate")] = False,
    no_recreate: Annotated[bool, typer.Option("--no-recreate")] = False,
    renew_anon_volumes: Annotated[bool, typer.Option(
        "-V", "--renew-anon-volumes", help="Recreate anonymous volumes instead of retrieving "
        "data from the previous containers.")] = False,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
    quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Pull without printing "
                                             "progress information.")] = False,
    scale: Annotated[list[str] | None, typer.Option("--scale", metavar="SERVICE=NUM")] = None,
    yes: Annotated[bool, noop("-y", "--yes", reason="pycompose never prompts")] = False,
) -> int:
    """Converge without starting anything (``up --no-start``)."""
    from compose.orchestrator.convergence import RecreatePolicy
    from compose.orchestrator.up import Up, UpOptions

    if force_recreate and no_recreate:
        raise ComposeError("--force-recreate and --no-recreate are incompatible")
    targets = tuple(services or ())
    project = apply_pull_flag(ctx.obj.load_project(services=targets), pull)
    recreate = (RecreatePolicy.FORCE if force_recreate else RecreatePolicy.NEVER if no_recreate
                else RecreatePolicy.DIVERGED)
    opts = UpOptions(services=targets, build=build, no_build=no_build, scale=_parse_scale(scale),
                     parallel=ctx.obj.parallel,
                     recreate=recreate, no_start=True, remove_orphans=remove_orphans,
                     ignore_orphans=env_flag(project.environment, "COMPOSE_IGNORE_ORPHANS"),
                     renew_anon_volumes=renew_anon_volumes)
    progress = quiet_steps(Progress(ctx.obj.progress), pull=quiet_pull, build=False)
    result = Up(project, backend(), opts, progress).run()
    for f in result.failures():
        terminal.error(f)
    return 1 if result.failures() else 0
