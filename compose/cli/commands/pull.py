"""``pycompose pull``: pull the images of the project's services."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._imageutil import progress_printer, select_services


def register(app: typer.Typer) -> None:
    """Add the ``pull`` command to ``app``."""
    app.command("pull", help="Pull service images.")(pull_command)


def pull_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    ignore_failures: Annotated[bool, typer.Option("--ignore-pull-failures",
                                                  help="Pull what it can.")] = False,
    ignore_buildable: Annotated[bool, typer.Option("--ignore-buildable",
                                                   help="Skip services that build.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    include_deps: Annotated[bool, typer.Option("--include-deps", help="Also pull the "
                                               "services declared as dependencies.")] = False,
    policy: Annotated[str, typer.Option("--policy", metavar="POLICY", help="missing "
                                        "(only images not present) or always.")] = "always",
) -> None:
    """Pull each service's ``image:`` (services that only build are skipped)."""
    from engine.errors import EngineError
    from engine.images import exists, pull

    if policy not in ("missing", "always"):
        raise typer.BadParameter("must be missing or always", param_hint="--policy")
    project = ctx.obj.load_project(services=tuple(services or ()))
    if include_deps and services:
        from compose.orchestrator.project import with_dependencies

        services = list(with_dependencies(project, services))
    failed = []
    for svc in select_services(project, services):
        if not svc.image or (ignore_buildable and svc.build is not None):
            continue
        if policy == "missing" and exists(svc.image):
            continue
        if not quiet:
            terminal.line(f"{svc.name} Pulling")
        try:
            pull(svc.image, progress=progress_printer(f" {svc.name}", quiet),
                 platform=svc.platform)
        except EngineError as exc:
            # An image that can be built may legitimately be absent from registries.
            if svc.build is not None or ignore_failures:
                terminal.warn(f"{svc.name}: {exc}")
                continue
            failed.append(svc.name)
            terminal.error(f"{svc.name}: {exc}")
            continue
        if not quiet:
            terminal.line(f"{svc.name} Pulled")
    if failed:
        raise typer.Exit(1)
