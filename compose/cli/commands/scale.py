"""``pycompose scale SERVICE=N...``: set the number of replicas of services (docker compose v2:
the containers of the named services are added or removed; dependencies start unless
--no-deps; other services are left as they are)."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import Progress, backend
from compose.errors import ComposeError


def register(app: typer.Typer) -> None:
    """Add the ``scale`` command to ``app``."""
    app.command("scale", help="Scale services.")(scale_command)


def parse_replicas(args: list[str]) -> dict[str, int]:
    """``SERVICE=N`` arguments (docker's messages for bad ones)."""
    out: dict[str, int] = {}
    for arg in args:
        key, sep, val = arg.partition("=")
        if not sep or not key or not val:
            raise ComposeError(f"invalid scale specifier: {arg}")
        try:
            n = int(val)
        except ValueError:
            raise ComposeError(f"invalid scale specifier: can't parse replica value as int: "
                               f"{arg}") from None
        if n < 0:
            raise ComposeError(f"invalid scale specifier: replicas must be >= 0: {arg}")
        out[key] = n
    return out


def scale_command(
    ctx: typer.Context,
    specs: Annotated[list[str], typer.Argument(metavar="SERVICE=REPLICAS...")],
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Don't start linked services.")
                       ] = False,
) -> int:
    """Converge the named services to their new replica counts."""
    from compose.orchestrator.up import Up, UpOptions

    replicas = parse_replicas(specs)
    services = tuple(sorted(replicas))
    project = ctx.obj.load_project(services=services)
    for s in services:
        if s not in project.services:
            raise ComposeError(f"no such service: {s}")
        if replicas[s] > 1 and project.services[s].container_name:
            raise ComposeError(f"service {s!r} has a container_name: it cannot be scaled "
                               "beyond 1 container")
    opts = UpOptions(services=services, no_deps=no_deps, scale=replicas,
                     parallel=ctx.obj.parallel)
    result = Up(project, backend(), opts, Progress(ctx.obj.progress)).run()
    for f in result.failures():
        terminal.error(f)
    return 1 if result.failures() else 0
