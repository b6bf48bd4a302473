"""``pycompose ps``: list the project's containers like docker compose."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import (
    backend,
    containers_of,
    human_since,
    number,
    ports_text,
    project_and_name,
    status_text,
)
from compose.orchestrator import labels as L

if TYPE_CHECKING:
    from compose.config.model import Project
    from compose.orchestrator.backend import ContainerRef

_STATES = ("paused", "restarting", "removing", "running", "dead", "created", "exited")


def register(app: typer.Typer) -> None:
    """Add the ``ps`` command to ``app``."""
    app.command("ps", help="List containers.")(ps_command)


def ps_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    all_: Annotated[bool, typer.Option("-a", "--all", help="Show all stopped containers.")
                    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only display IDs.")] = False,
    show_services: Annotated[bool, typer.Option("--services", help="Display services.")
                             ] = False,
    status: Annotated[list[str] | None, typer.Option("--status", metavar="STATUS",
                                                     help="Filter by status.")] = None,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT",
                                     help="table or json.")] = "table",
) -> int:
    """Print the containers (running ones unless -a or --status)."""
    project, name = project_and_name(ctx, services or (), need_file=False)
    for st in status or ():
        if st not in _STATES:
            raise typer.BadParameter(f"invalid status {st!r}", param_hint="--status")
    from compose.orchestrator import client

    cs = containers_of(backend(), name, services or (), all=True)
    if any(c.running for c in cs):
        client.ensure_supervisor(name)  # re-adopt after a killed supervisor
    if status:
        cs = [c for c in cs if c.state in status]
    elif not all_:
        cs = [c for c in cs if c.running]
    if quiet:
        for c in cs:
            terminal.line(c.id)
    elif show_services:
        for s in dict.fromkeys(c.labels.get(L.SERVICE, "") for c in cs):
            terminal.line(s)
    elif fmt == "json":
        for c in cs:
            terminal.line(json.dumps(_json_row(project, c)))
    elif fmt == "table":
        rows = [_table_row(project, c) for c in cs]
        terminal.write(terminal.table(("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED",
                                       "STATUS", "PORTS"), rows))
    else:
        raise typer.BadParameter("must be table or json", param_hint="--format")
    return 0


def image_of(project: Project | None, c: ContainerRef) -> str:
    service = c.labels.get(L.SERVICE, "")
    if project is not None and service in project.services:
        svc = project.services[service]
        return svc.image or f"{project.name}-{service}"
    return c.labels.get(L.IMAGE, "").removeprefix("sha256:")[:12]


def _command(c: ContainerRef) -> str:
    cmd = c.command if len(c.command) <= 20 else c.command[:19] + "…"
    return f'"{cmd}"'


def _table_row(project: Project | None, c: ContainerRef) -> list[str]:
    return [c.name, image_of(project, c), _command(c), c.labels.get(L.SERVICE, ""),
            human_since(c.created), status_text(c), ports_text(c)]


def _json_row(project: Project | None, c: ContainerRef) -> dict[str, object]:
    from compose.orchestrator import state

    row = state.get(c.id)
    health = row.health_status if row is not None and row.health is not None else ""
    return {"ID": c.id, "Name": c.name, "Image": image_of(project, c), "Command": c.command,
            "Project": c.labels.get(L.PROJECT, ""), "Service": c.labels.get(L.SERVICE, ""),
            "Number": number(c), "Created": c.created, "State": c.state,
            "Status": status_text(c), "Health": health, "ExitCode": c.exit_code or 0,
            "RestartCount": c.extra.get("restart_count", 0), "Labels": dict(c.labels),
            "Publishers": ports_text(c)}
