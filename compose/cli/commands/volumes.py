"""``pycompose volumes``: the project's volumes (of some services only when named)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import backend, check_services, containers_of, project_and_name

if TYPE_CHECKING:
    from engine.volumes import Volume

HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE",
           "Mountpoint": "MOUNTPOINT", "Labels": "LABELS"}
DEFAULT_TABLE = "table {{.Driver}}\t{{.Name}}"


def register(app: typer.Typer) -> None:
    """Add the ``volumes`` command to ``app``."""
    app.command("volumes", help="List volumes.")(volumes_command)


def volumes_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only display volume names.")
                     ] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT",
                                     help="table, json or a Go template.")] = "table",
) -> int:
    """List the project's volumes, or those mounted by the given services' containers."""
    project, name = project_and_name(ctx, services or (), need_file=False)
    check_services(project, services or ())
    vols = project_volumes(name, services or [])
    if quiet:
        for v in vols:
            terminal.line(v.name)
        return 0
    from compose.cli.gotemplate import format_rows
    from compose.cli.options import template_of

    rows = [_row(v) for v in vols]
    fmt = template_of(fmt, DEFAULT_TABLE)
    terminal.write(format_rows(fmt, rows, HEADERS))
    return 0


def project_volumes(project: str, services: list[str]) -> list[Volume]:
    """Volumes labelled with the project; with ``services``, those their containers mount."""
    from compose.orchestrator import labels as L
    from engine import volumes

    found = sorted(volumes.list_volumes({L.PROJECT: project}), key=lambda v: v.name)
    if not services:
        return found
    used = _mounted_sources(project, services)
    return [v for v in found if str(v.mountpoint) in used]


def _mounted_sources(project: str, services: list[str]) -> set[str]:
    from engine import containers
    from engine.containers import MountType
    from engine.containers.record import spec_from_json

    sources = set()
    for c in containers_of(backend(), project, services, oneoff=True):
        spec = spec_from_json(containers.inspect(c.id).spec)
        sources |= {str(m.source) for m in spec.mounts if m.type is MountType.VOLUME}
    return sources


def _row(v: Volume) -> dict[str, object]:
    from compose.cli.gotemplate import Row

    labels = dict(v.labels)
    return Row(Driver=v.driver, Labels=",".join(f"{k}={val}" for k, val in labels.items()),
               Links="N/A", Mountpoint=str(v.mountpoint), Name=v.name, Scope="local",
               Size="N/A", Label=lambda key: labels.get(str(key), ""))
