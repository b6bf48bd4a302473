"""``pycompose exec``: run a command in a running service container.

Like docker compose: a pseudo-terminal when standard input and output are terminals (``-T``/
``--no-TTY``/``--no-tty`` disables it; ``-t`` insists and fails without a terminal), stdin kept
open (``-i``, default), the command's exit code returned. With a terminal, the caller's one is
raw while the command runs, resized with it, and restored on every way out; without one,
SIGINT/SIGTERM/SIGHUP/SIGQUIT received here are passed to the command's process group.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import Annotated

import typer

from compose.cli.commands._orch import backend, check_services, pick_container, project_and_name
from compose.errors import ComposeError


def register(app: typer.Typer) -> None:
    """Add the ``exec`` command to ``app``."""
    app.command("exec", help="Execute a command in a running container.",
                context_settings={"allow_interspersed_args": False})(exec_command)


NOT_A_TTY = "the input device is not a TTY (use -T to run without one)"  # docker exec's


def want_tty(no_tty: bool, tty: bool, refusal: str = NOT_A_TTY) -> bool:
    """docker's rule: a pseudo-terminal when stdin and stdout are terminals, unless ``-T``;
    ``-t`` without a terminal on stdin is refused with ``refusal``."""
    if no_tty:
        return False
    if tty and not sys.stdin.isatty():
        raise ComposeError(refusal)
    return sys.stdin.isatty() and sys.stdout.isatty()


def resolve_env(items: Iterable[str], lookup: Mapping[str, str]) -> tuple[str, ...]:
    """``-e KEY=VAL`` as given; a bare ``-e KEY`` takes KEY from the project environment (the
    shell, then .env) and is left out when that does not set it (docker compose's rule)."""
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item in lookup:
            out.append(f"{item}={lookup[item]}")
    return tuple(out)


def exec_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    command: Annotated[list[str], typer.Argument(metavar="COMMAND [ARGS...]")],
    detach: Annotated[bool, typer.Option("-d", "--detach", help="Run in the background.")
                      ] = False,
    no_tty: Annotated[bool, typer.Option("-T", "--no-TTY", "--no-tty", help="Disable "
                                         "pseudo-TTY allocation (default: a TTY when stdin "
                                         "and stdout are terminals).")] = False,
    tty: Annotated[bool, typer.Option("-t", "--tty", help="Allocate a pseudo-TTY (the "
                                      "default when stdin is a terminal; an error otherwise)."
                                      )] = False,
    user: Annotated[str, typer.Option("-u", "--user", metavar="USER")] = "",
    workdir: Annotated[str, typer.Option("-w", "--workdir", metavar="DIR")] = "",
    env: Annotated[list[str] | None, typer.Option("-e", "--env", metavar="KEY=VAL")] = None,
    index: Annotated[int | None, typer.Option("--index", metavar="N")] = None,
    interactive: Annotated[bool, typer.Option("-i", "--interactive/--no-interactive",
                                              show_default=False,
                                              help="Keep stdin open (default).")] = True,
    privileged: Annotated[bool, typer.Option("--privileged", help="Give the command every "
                                             "capability.")] = False,
) -> int:
    """Run COMMAND in replica ``--index`` (default 1) and return its exit code."""
    project, name = project_and_name(ctx, (service,), need_file=False)
    check_services(project, (service,))
    be = backend()
    c = pick_container(be, name, service, index)
    resolved = resolve_env(env or (), os.environ if project is None else project.environment)
    if detach:
        return be.exec(c.id, list(command), env=resolved, user=user, workdir=workdir,
                       tty=False, interactive=False, privileged=privileged, detach=True)
    return be.exec(c.id, list(command), env=resolved, user=user, workdir=workdir,
                   tty=want_tty(no_tty, tty), interactive=interactive, privileged=privileged)
