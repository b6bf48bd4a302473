"""``pycompose export SERVICE``: a service container's filesystem as a tar archive."""
from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli.commands._orch import (
    backend,
    check_services,
    containers_of,
    number,
    project_and_name,
)
from compose.errors import ComposeError

if TYPE_CHECKING:
    from compose.orchestrator.backend import ContainerRef


def register(app: typer.Typer) -> None:
    """Add the ``export`` command to ``app``."""
    app.command("export", help="Export a service container's filesystem as a tar "
                "archive.")(export_command)


def export_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    output: Annotated[str | None, typer.Option("-o", "--output", metavar="FILE",
                                               help="Write to a file, instead of STDOUT.")
                      ] = None,
    index: Annotated[int | None, typer.Option("--index", metavar="N", help="Replica index "
                                              "(default 1).")] = None,
) -> int:
    """Write the tar to ``-o FILE`` or standard output (never to a terminal)."""
    from engine.containers.export import export

    project, name = project_and_name(ctx, (service,), need_file=False)
    check_services(project, (service,))
    c = pick_any(name, service, index)
    if output is None:
        if sys.stdout.isatty():
            raise ComposeError("refusing to export to terminal, use -o or redirect stdout")
        sys.stdout.flush()
        with os.fdopen(os.dup(sys.stdout.fileno()), "wb") as out:
            export(c.id, out)
        return 0
    tmp = f"{output}.part"
    try:
        with open(tmp, "wb") as out:
            export(c.id, out)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return 0


def pick_any(name: str, service: str, index: int | None) -> ContainerRef:
    """Replica ``index`` (default 1) of a service, running or not (export and commit work
    on stopped containers too)."""
    found = containers_of(backend(), name, [service])
    wanted = index if index is not None else 1
    for c in found:
        if number(c) == wanted:
            return c
    raise ComposeError(f"service {service!r} has no container"
                       + (f" with index {index}" if index is not None else ""))
