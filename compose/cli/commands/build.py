"""``pycompose build``: build the services that have a ``build:`` section."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._imageutil import progress_printer, select_services


def register(app: typer.Typer) -> None:
    """Add the ``build`` command to ``app``."""
    app.command("build", help="Build or rebuild services.")(build_command)


def build_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the cache.")] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Always pull base images.")] = False,
    build_arg: Annotated[list[str] | None, typer.Option("--build-arg", metavar="KEY=VAL")]
    = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
) -> None:
    """Build images for services (in order; each one's layers are cached; services sharing an
    image name build it once, like compose)."""
    from compose.orchestrator.imagespec import build_spec, image_name
    from engine.images import build

    project = ctx.obj.load_project(services=tuple(services or ()))
    extra = dict(a.partition("=")[::2] for a in build_arg or ())
    built: set[str] = set()
    for svc in select_services(project, services):
        if svc.build is None or image_name(project, svc) in built:
            continue
        built.add(image_name(project, svc))
        project.require_supported([svc.name], section="build")
        spec = build_spec(project, svc, no_cache=no_cache, pull=pull, extra_args=extra)
        if not quiet:
            terminal.line(f"{svc.name} Building")
        img = build(spec, progress=progress_printer(f" {svc.name}", quiet))
        if not quiet:
            terminal.line(f"{svc.name} Built {img.short_id} ({', '.join(spec.tags)})")
