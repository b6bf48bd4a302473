"""``pycompose run``: a one-off container for a service (dependencies started first)."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import Progress, backend
from compose.errors import ComposeError

if TYPE_CHECKING:  # the orchestrator is imported when the command runs, not for `--help`
    from compose.config.model import Project
    from compose.orchestrator.backend import Backend


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""
    app.command("run", help="Run a one-off command on a service.",
                context_settings={"allow_interspersed_args": False})(run_command)


def _start_off_main_thread(be: Backend, cid: str) -> None:
    """Start from a second thread, as ``up`` does. Workaround: when the CLI is single-threaded
    the engine forks the shim instead of exec'ing it, and after an ``up`` of the dependencies
    that forked shim has been seen to delete the store's WAL (``shim: disk I/O error``, then
    ``database is locked`` everywhere). Reported to the containers owner."""
    errors: list[BaseException] = []

    def start() -> None:
        try:
            be.start_container(cid)
        except BaseException as exc:  # re-raised on the calling thread
            errors.append(exc)

    t = threading.Thread(target=start, name="start")
    t.start()
    t.join()
    if errors:
        raise errors[0]


def run_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    command: Annotated[list[str] | None, typer.Argument(metavar="[COMMAND] [ARGS...]")] = None,
    rm: Annotated[bool, typer.Option("--rm", help="Remove the container when it exits.")
                  ] = False,
    detach: Annotated[bool, typer.Option("-d", "--detach")] = False,
    env: Annotated[list[str] | None, typer.Option("-e", "--env", metavar="KEY=VAL")] = None,
    no_deps: Annotated[bool, typer.Option("--no-deps")] = False,
    entrypoint: Annotated[str | None, typer.Option("--entrypoint", metavar="CMD")] = None,
    user: Annotated[str | None, typer.Option("-u", "--user", metavar="USER")] = None,
    workdir: Annotated[str | None, typer.Option("-w", "--workdir", metavar="DIR")] = None,
    publish: Annotated[list[str] | None, typer.Option("-p", "--publish", metavar="PORT")
                       ] = None,
    service_ports: Annotated[bool, typer.Option("--service-ports")] = False,
    use_aliases: Annotated[bool, typer.Option("--use-aliases")] = False,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME")] = None,
    no_tty: Annotated[bool, typer.Option("-T", "--no-TTY")] = False,
) -> int:
    """Start the dependencies (unless --no-deps), then run SERVICE once; its exit code."""
    import secrets

    from compose.orchestrator import client
    from compose.orchestrator import project as proj
    from compose.orchestrator.oneoff import create_one_off, one_off_service, remove_one_off
    from compose.orchestrator.up import Up, UpOptions

    project: Project = ctx.obj.load_project(services=(service,))
    if service not in project.services:
        raise ComposeError(f"no such service: {service}")
    be = backend()
    progress = Progress(ctx.obj.progress)
    deps = [d for d in proj.with_dependencies(project, [service]) if d != service]
    if deps and not no_deps:
        result = Up(project, be, UpOptions(services=tuple(deps)), progress).run()
        if result.failures():
            for f in result.failures():
                terminal.error(f)
            return 1
    svc = one_off_service(project.services[service], entrypoint=entrypoint, user=user,
                          workdir=workdir, env=env or [], ports=publish or [],
                          service_ports=service_ports)
    cname = name or f"{project.name}-{service}-run-{secrets.token_hex(6)}"
    cid = create_one_off(project, be, svc, name=cname, command=command,
                         use_aliases=use_aliases, progress=progress)
    _start_off_main_thread(be, cid)
    client.watch(project.name, cid)
    if detach:
        terminal.line(cname)
        return 0
    try:
        for ln in be.logs(cid, follow=True, since=None, tail=None):
            terminal.line(ln.text.rstrip("\n"))
        code = be.wait_container(cid)
    finally:
        if rm:
            remove_one_off(be, cid)
    return code
