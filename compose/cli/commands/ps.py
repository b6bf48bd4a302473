"""``pycompose ps``: list the project's containers like docker compose."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import (
    backend,
    check_services,
    containers_of,
    human_since,
    number,
    parse_time,
    ports_text,
    project_and_name,
    status_text,
)
from compose.cli.gotemplate import Row, format_rows, is_template
from compose.cli.options import parse_go_bool
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
                                     help="table, json, or a Go template ('table TEMPLATE' "
                                     "adds a header row).")] = "table",
    filter_: Annotated[str | None, typer.Option("--filter", metavar="KEY=VALUE",
                                                help="Filter services by a property "
                                                "(supported filters: status).")] = None,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Don't truncate output.")
                        ] = False,
    orphans: Annotated[str, typer.Option("--orphans", metavar="BOOL",
                                         help="Include orphaned services (not declared by "
                                         "the project): true or false.")] = "true",
) -> int:
    """Print the containers (running ones unless -a or --status)."""
    project, name = project_and_name(ctx, services or (), need_file=False)
    status = list(status or ()) + _status_filter(filter_)
    for st in status:
        if st not in _STATES:
            raise typer.BadParameter(f"invalid status {st!r}", param_hint="--status")
    from compose.orchestrator import client

    if services:
        check_services(project, services)
    elif project is not None and not parse_go_bool(orphans, "--orphans"):
        services = list(project.services)
    # like docker compose: -a also lists the one-off containers of `run`
    cs = containers_of(backend(), name, services or (), all=True, oneoff=all_)
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
        rows = [_table_row(project, c, trunc=not no_trunc) for c in cs]
        terminal.write(terminal.table(("NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED",
                                       "STATUS", "PORTS"), rows))
    elif is_template(fmt):
        terminal.write(format_rows(fmt, [_template_row(project, c, not no_trunc) for c in cs],
                                   HEADERS))
    else:
        raise typer.BadParameter("must be table, json or a Go template", param_hint="--format")
    return 0


def _status_filter(text: str | None) -> list[str]:
    """docker compose's ``--filter status=VALUE`` (the one key it supports)."""
    if not text:
        return []
    key, sep, value = text.partition("=")
    if not sep:
        raise typer.BadParameter(f"bad format of filter (expected name=value): {text!r}",
                                 param_hint="--filter")
    if key == "status":
        return [value]
    if key == "source":
        raise typer.BadParameter("filter 'source' is not supported (docker compose does "
                                 "not implement it either)", param_hint="--filter")
    raise typer.BadParameter(f"unknown filter {key}", param_hint="--filter")


HEADERS = {"ID": "CONTAINER ID", "Name": "NAME", "Names": "NAMES", "Project": "PROJECT",
           "Service": "SERVICE", "Image": "IMAGE", "Command": "COMMAND",
           "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
           "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS",
           "Health": "HEALTH", "ExitCode": "EXIT CODE", "Publishers": "PUBLISHERS"}


def _template_row(project: Project | None, c: ContainerRef, trunc: bool) -> Row:
    """The fields docker compose's ps template sees (its ContainerContext; Networks, Mounts,
    LocalVolumes and Size are not offered: a template naming them fails)."""
    base = _json_row(project, c)
    created = parse_time(c.created).astimezone() if c.created else None
    labels = dict(c.labels)
    return Row(
        ID=c.id[:12] if trunc else c.id, Name=c.name, Names=c.name, Project=base["Project"],
        Service=base["Service"], Image=base["Image"],
        Command=json.dumps(_ellipsis(c.command, 20) if trunc else c.command,
                           ensure_ascii=False),
        CreatedAt=f"{created:%Y-%m-%d %H:%M:%S %z %Z}" if created else "",
        RunningFor=human_since(c.created), ExitCode=base["ExitCode"], State=c.state,
        Status=base["Status"], Health=base["Health"], Ports=base["Publishers"],
        Publishers=base["Publishers"],
        Labels=",".join(f"{k}={v}" for k, v in labels.items()),
        Label=lambda key: labels.get(str(key), ""))


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def image_of(project: Project | None, c: ContainerRef) -> str:
    service = c.labels.get(L.SERVICE, "")
    if project is not None and service in project.services:
        svc = project.services[service]
        return svc.image or f"{project.name}-{service}"
    return c.labels.get(L.IMAGE, "").removeprefix("sha256:")[:12]


def _command(c: ContainerRef) -> str:
    cmd = c.command if len(c.command) <= 20 else c.command[:19] + "…"
    return f'"{cmd}"'


def _table_row(project: Project | None, c: ContainerRef, trunc: bool = True) -> list[str]:
    command = _command(c) if trunc else json.dumps(c.command, ensure_ascii=False)
    return [c.name, image_of(project, c), command, c.labels.get(L.SERVICE, ""),
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
