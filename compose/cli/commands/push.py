"""``pycompose push``: push the images of the project's services."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._imageutil import progress_printer, select_services
from compose.cli.options import rejected

if TYPE_CHECKING:
    from compose.config.model import Project


def register(app: typer.Typer) -> None:
    """Add the ``push`` command to ``app``."""
    app.command("push", help="Push service images.")(push_command)


def push_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    ignore_failures: Annotated[bool, typer.Option("--ignore-push-failures")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    include_deps: Annotated[bool, rejected("--include-deps", reason="push names its services "
                                           "explicitly")] = False,
) -> None:
    """Push each service's ``image:`` (and extra ``build.tags``) that exists locally."""
    project = ctx.obj.load_project(services=tuple(services or ()))
    failed = push_images(project, services, quiet=quiet, ignore_failures=ignore_failures)
    if failed and not ignore_failures:
        raise typer.Exit(1)


def push_images(project: Project, services: list[str] | None, *, quiet: bool,
                ignore_failures: bool) -> list[str]:
    """Push the named services' images (services without ``image:`` are skipped, as docker
    compose skips unnamed images); the services whose push failed."""
    from engine.errors import EngineError
    from engine.images import push

    failed = []
    for svc in select_services(project, services):
        if not svc.image:
            continue
        refs = [svc.image] + list(svc.build.tags if svc.build else ())
        for ref in refs:
            if not quiet:
                terminal.line(f"{svc.name} Pushing {ref}")
            try:
                digest = push(ref, progress=progress_printer(f" {svc.name}", quiet))
            except EngineError as exc:
                failed.append(svc.name)
                (terminal.warn if ignore_failures else terminal.error)(f"{svc.name}: {exc}")
                continue
            if not quiet:
                terminal.line(f"{svc.name} Pushed {digest}")
    return failed
