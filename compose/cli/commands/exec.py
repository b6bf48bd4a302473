"""``pycompose exec``: run a command in a running service container."""
from __future__ import annotations

import sys
from typing import Annotated

import typer

from compose.cli.commands._orch import backend, check_services, pick_container, project_and_name


def register(app: typer.Typer) -> None:
    """Add the ``exec`` command to ``app``."""
    app.command("exec", help="Execute a command in a running container.",
                context_settings={"allow_interspersed_args": False})(exec_command)


def exec_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    command: Annotated[list[str], typer.Argument(metavar="COMMAND [ARGS...]")],
    detach: Annotated[bool, typer.Option("-d", "--detach", help="Run in the background.")
                      ] = False,
    no_tty: Annotated[bool, typer.Option("-T", "--no-TTY", help="Disable pseudo-TTY "
                                         "allocation (default: a TTY when stdin is one).")
                      ] = False,
    user: Annotated[str, typer.Option("-u", "--user", metavar="USER")] = "",
    workdir: Annotated[str, typer.Option("-w", "--workdir", metavar="DIR")] = "",
    env: Annotated[list[str] | None, typer.Option("-e", "--env", metavar="KEY=VAL")] = None,
    index: Annotated[int | None, typer.Option("--index", metavar="N")] = None,
    interactive: Annotated[bool, typer.Option("-i", "--interactive/--no-interactive",
                                              help="Keep stdin open.")] = True,
) -> int:
    """Run COMMAND in replica ``--index`` (default 1) and return its exit code."""
    project, name = project_and_name(ctx, (service,), need_file=False)
    check_services(project, (service,))
    be = backend()
    c = pick_container(be, name, service, index)
    if detach:
        import threading

        threading.Thread(target=be.exec, args=(c.id, command), daemon=False, kwargs=dict(
            env=tuple(env or ()), user=user, workdir=workdir, tty=False,
            interactive=False)).start()
        return 0
    tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
    return be.exec(c.id, list(command), env=tuple(env or ()), user=user, workdir=workdir,
                   tty=tty, interactive=interactive)
