"""``pycompose run``: a one-off container for a service (dependencies started first)."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import Progress, backend
from compose.errors import ComposeError

if TYPE_CHECKING:  # the orchestrator is imported when the command runs, not for `--help`
    from compose.config.model import Project, Service


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""
    app.command("run", help="Run a one-off command on a service.",
                context_settings={"allow_interspersed_args": False})(run_command)


def _one_off_service(svc: Service, *, entrypoint: str | None, user: str | None,
                     workdir: str | None, env: list[str], ports: list[str],
                     service_ports: bool) -> Service:
    from compose.config.model import PortConfig

    environment = dict(svc.environment)
    for item in env:
        key, sep, val = item.partition("=")
        environment[key] = val if sep else None
    published = list(svc.ports) if service_ports else []
    for p in ports:
        host, _, target = p.rpartition(":")
        published.append(PortConfig(int(target.split("/")[0]), host or None))
    return dataclasses.replace(
        svc, entrypoint=(entrypoint,) if entrypoint else svc.entrypoint,
        user=user if user is not None else svc.user,
        working_dir=workdir if workdir is not None else svc.working_dir,
        environment=environment, ports=tuple(published), restart=None)


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

    from compose.orchestrator import client, state
    from compose.orchestrator import project as proj
    from compose.orchestrator.backend import CreateRequest
    from compose.orchestrator.health import resolve_healthcheck
    from compose.orchestrator.lock import project_lock
    from compose.orchestrator.prepare import prepare_networks_and_volumes
    from compose.orchestrator.restart import RestartPolicy
    from compose.orchestrator.translate import check_supported
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
    svc = _one_off_service(project.services[service], entrypoint=entrypoint, user=user,
                           workdir=workdir, env=env or [], ports=publish or [],
                           service_ports=service_ports)
    check_supported(svc)
    image = be.ensure_image(project, svc, pull="missing", build=False, progress=progress)
    with project_lock(project.name):  # like compose: the service's networks and volumes
        prepare_networks_and_volumes(project, be, [service], progress)
    cname = name or f"{project.name}-{service}-run-{secrets.token_hex(6)}"
    labels = proj.container_labels(project, svc, 1, image.id, oneoff=True)
    cid = be.create_container(CreateRequest(project, svc, 1, cname, labels, image, oneoff=True,
                                            command=tuple(command) if command else None,
                                            use_aliases=use_aliases))
    state.save(state.Supervised(cid, project.name, service, cname,
                                resolve_healthcheck(svc.healthcheck, image.config.healthcheck),
                                RestartPolicy()))
    client.ensure_supervisor(project.name)
    be.start_container(cid)
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
            be.stop_container(cid, None)
            be.remove_container(cid)
            state.delete(cid)
    return code
