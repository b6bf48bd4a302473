"""``pycompose ps``: list the project's containers like docker compose."""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import (
    backend,
    check_services,
    containers_of,
    human_since,
    parse_time,
    project_and_name,
    status_text,
)
from compose.cli.commands._psrow import (
    Publisher,
    RowFacts,
    exposed_ports,
    json_row,
    mounts_of,
    networks_of,
    ports_column,
    publishers,
    quoted_command,
)
from compose.cli.gotemplate import Row, format_rows, is_template
from compose.cli.options import parse_go_bool
from compose.orchestrator import labels as L

if TYPE_CHECKING:
    from compose.config.model import Project
    from compose.orchestrator.backend import ContainerRef

log = logging.getLogger(__name__)

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
                                     "adds a header row); default: the docker CLI config's "
                                     "psFormat, else table.")] = "",
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
    cs = sorted(cs, key=lambda c: c.name)  # docker compose lists them by name
    fmt = fmt or _configured_format() or "table"
    if quiet:
        for c in cs:
            terminal.line(c.id)
    elif show_services:
        for s in dict.fromkeys(c.labels.get(L.SERVICE, "") for c in cs):
            terminal.line(s)
    elif fmt == "json":
        for c in cs:
            terminal.line(json.dumps(json_row(c, _facts(project, c), not no_trunc),
                                     ensure_ascii=False, separators=(",", ":")))
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
           "Health": "HEALTH", "ExitCode": "EXIT CODE", "Publishers": "PUBLISHERS",
           "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS"}


def _template_row(project: Project | None, c: ContainerRef, trunc: bool) -> Row:
    """The fields docker compose's ps template sees (its ContainerContext)."""
    row = json_row(c, _facts(project, c), trunc)
    labels = dict(c.labels)
    return Row(**row, Label=lambda key: labels.get(str(key), ""))


def image_of(project: Project | None, c: ContainerRef) -> str:
    service = c.labels.get(L.SERVICE, "")
    if project is not None and service in project.services:
        svc = project.services[service]
        return svc.image or f"{project.name}-{service}"
    return _image_reference(c.labels.get(L.IMAGE, ""))


def _image_reference(image_id: str) -> str:
    """The image's first name (docker shows the reference a container was created from), else
    its short id: for containers of services not in the loaded model."""
    from engine.images import normalize_reference, resolve

    try:
        tags = resolve(image_id).repo_tags if image_id else ()
    except Exception:  # the image is gone since
        tags = ()
    return (normalize_reference(tags[0]).familiar() if tags
            else image_id.removeprefix("sha256:")[:12])


def _facts(project: Project | None, c: ContainerRef) -> RowFacts:
    from compose.orchestrator import state
    from engine.paths import state_root

    row = state.get(c.id)
    health = row.health_status if row is not None and row.health is not None else ""
    created = parse_time(c.created).astimezone() if c.created else None
    mounts, local = mounts_of(c.extra.get("mounts") or (), str(state_root()))
    return RowFacts(
        image=image_of(project, c), status=status_text(c), running_for=human_since(c.created),
        created_at=f"{created:%Y-%m-%d %H:%M:%S %z %Z}" if created else "", health=health,
        pubs=tuple(_publishers(project, c)), mounts=tuple(mounts), local_volumes=local,
        networks=tuple(networks_of(project, c.labels.get(L.SERVICE, ""))),
        restart_count=int(c.extra.get("restart_count", 0) or 0))


def _publishers(project: Project | None, c: ContainerRef) -> list[Publisher]:
    """The running container's ports (docker lists none for a stopped container)."""
    if not c.running:
        return []
    from engine import networks

    try:
        bindings = networks.published_ports(c.name)
    except Exception:  # the record is gone: the container is being removed
        log.debug("no published ports for %s", c.name, exc_info=True)
        bindings = []
    service = c.labels.get(L.SERVICE, "")
    exposed = (exposed_ports(project.services[service])
               if project is not None and service in project.services else [])
    return publishers(bindings, exposed)


def _table_row(project: Project | None, c: ContainerRef, trunc: bool = True) -> list[str]:
    return [c.name, image_of(project, c), quoted_command(c.command, trunc),
            c.labels.get(L.SERVICE, ""), human_since(c.created), status_text(c),
            ports_column(_publishers(project, c))]


def _configured_format() -> str:
    """``psFormat`` of the docker CLI's config.json (``$DOCKER_CONFIG``, else ~/.docker),
    which docker compose uses when no --format is given."""
    import os

    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    try:
        with open(os.path.join(base, "config.json"), encoding="utf-8") as f:
            value = json.load(f).get("psFormat")
    except (OSError, ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""

