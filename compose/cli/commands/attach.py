"""``pycompose attach``: attach local standard input, output and error to a service's running
container (docker compose attach).

Output of the container's main process is relayed from now on; stdin too when the service has
``stdin_open`` (raw terminal and window size when it has ``tty``). The detach keys (default
ctrl-p,ctrl-q) leave it running: "read escape sequence", exit code 1, like docker. Otherwise the
exit code is the container's.
"""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli.commands._orch import backend, check_services, pick_container, project_and_name
from compose.errors import ComposeError


def register(app: typer.Typer) -> None:
    """Add the ``attach`` command to ``app``."""
    app.command("attach", help="Attach local standard input, output, and error streams to a "
                "service's running container.")(attach_command)


def parse_bool(option: str, value: str) -> bool:
    """docker's ``--flag=false`` spelling of a boolean option."""
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ComposeError(f"{option} takes true or false, not {value!r}")


def attach_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    detach_keys: Annotated[str, typer.Option("--detach-keys", metavar="KEYS", help="Key "
                                             "sequence for detaching (default ctrl-p,ctrl-q)."
                                             )] = "",
    index: Annotated[int | None, typer.Option("--index", metavar="N", help="Replica to "
                                              "attach to (default 1).")] = None,
    no_stdin: Annotated[bool, typer.Option("--no-stdin", help="Do not attach STDIN.")
                        ] = False,
    sig_proxy: Annotated[str, typer.Option("--sig-proxy", metavar="BOOL", help="Proxy "
                                           "received signals to the process: true (default) "
                                           "or false (--sig-proxy=false).")] = "true",
) -> int:
    """Relay until the container exits (its exit code) or the detach keys are typed."""
    from compose.cli import terminal

    proxy = parse_bool("--sig-proxy", sig_proxy)
    project, name = project_and_name(ctx, (service,), need_file=False)
    check_services(project, (service,))
    be = backend()
    c = pick_container(be, name, service, index)
    code = be.attach(c.id, stdin=not no_stdin, sig_proxy=proxy, detach_keys=detach_keys)
    if code is None:  # detached; the container keeps running
        terminal.error("read escape sequence")
        return 1
    return code
