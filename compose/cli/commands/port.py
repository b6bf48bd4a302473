"""``pycompose port``: the public address of a service's published port."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import backend, check_services, pick_container, project_and_name
from compose.errors import ComposeError


def register(app: typer.Typer) -> None:
    """Add the ``port`` command to ``app``."""
    app.command("port", help="Print the public port for a port binding.")(port_command)


def port_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    private_port: Annotated[int, typer.Argument(metavar="PRIVATE_PORT")],
    protocol: Annotated[str, typer.Option("--protocol", metavar="PROTO")] = "tcp",
    index: Annotated[int | None, typer.Option("--index", metavar="N")] = None,
) -> int:
    """Print ``HOST_IP:HOST_PORT`` for PRIVATE_PORT/PROTO of the service's container."""
    from engine import networks

    project, name = project_and_name(ctx, (service,), need_file=False)
    check_services(project, (service,))
    c = pick_container(backend(), name, service, index)
    for b in networks.published_ports(c.name):
        if b.container_port == private_port and b.protocol == protocol:
            terminal.line(f"{b.host_ip or '0.0.0.0'}:{b.host_port}")
            return 0
    raise ComposeError(f"no port {private_port}/{protocol} published for {service}")
