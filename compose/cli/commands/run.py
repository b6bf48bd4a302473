"""``pycompose run``: a one-off container for a service (dependencies started first)."""
from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import Progress, backend
from compose.cli.commands.up import quiet_steps
from compose.cli.options import apply_pull_flag, rejected
from compose.errors import ComposeError

if TYPE_CHECKING:  # the orchestrator is imported when the command runs, not for `--help`
    from compose.config.model import Project, Service
    from compose.orchestrator.backend import Backend


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


def _with_overrides(svc: Service, labels: list[str], cap_add: list[str], cap_drop: list[str],
                    env: dict[str, str | None]) -> Service:
    """``run``'s -l, --cap-add, --cap-drop and --env-from-file on the one-off service (the
    file's variables under -e ones, which are already in ``svc.environment``)."""
    merged = dict(svc.labels)
    for item in labels:
        key, _, val = item.partition("=")
        merged[key] = val
    return dataclasses.replace(
        svc, labels=merged, cap_add=tuple(dict.fromkeys([*svc.cap_add, *cap_add])),
        cap_drop=tuple(dict.fromkeys([*svc.cap_drop, *cap_drop])),
        environment={**env, **svc.environment} if env else svc.environment)


def _env_files(paths: list[str]) -> dict[str, str | None]:
    from compose.config.environment import read_env_file

    out: dict[str, str | None] = {}
    for p in paths:
        out.update(read_env_file(Path(p)))
    return out


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
    service_ports: Annotated[bool, typer.Option("-P", "--service-ports")] = False,
    use_aliases: Annotated[bool, typer.Option("--use-aliases")] = False,
    name: Annotated[str | None, typer.Option("--name", metavar="NAME")] = None,
    no_tty: Annotated[bool, typer.Option("-T", "--no-TTY")] = False,
    label: Annotated[list[str] | None, typer.Option("-l", "--label", metavar="KEY=VAL",
                                                    help="Add or override a label.")] = None,
    cap_add: Annotated[list[str] | None, typer.Option("--cap-add", metavar="CAP",
                                                      help="Add Linux capabilities.")] = None,
    cap_drop: Annotated[list[str] | None, typer.Option("--cap-drop", metavar="CAP",
                                                       help="Drop Linux capabilities.")] = None,
    build: Annotated[bool, typer.Option("--build", help="Build the image before starting.")
                     ] = False,
    pull: Annotated[str, typer.Option("--pull", metavar="POLICY", help="always, missing, "
                                      "never, build (default: the service's pull_policy).")
                    ] = "policy",
    quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Pull without printing "
                                             "progress information.")] = False,
    quiet_build: Annotated[bool, typer.Option("--quiet-build", help="Suppress build output.")
                           ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress output.")] = False,
    env_from_file: Annotated[list[str] | None, typer.Option("--env-from-file", metavar="FILE",
                                                            help="Set environment variables "
                                                            "from a file.")] = None,
    volume: Annotated[list[str] | None, rejected("-v", "--volume", reason="declare volumes in "
                                                 "the compose file", takes_value=True)] = None,
    remove_orphans: Annotated[bool, rejected("--remove-orphans", reason="use up or down "
                                             "--remove-orphans")] = False,
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

    project: Project = apply_pull_flag(ctx.obj.load_project(services=(service,)), pull)
    if service not in project.services:
        raise ComposeError(f"no such service: {service}")
    be = backend()
    progress = quiet_steps(Progress("quiet" if quiet else ctx.obj.progress), pull=quiet_pull,
                           build=quiet_build)
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
    svc = _with_overrides(svc, label or [], cap_add or [], cap_drop or [],
                          _env_files(env_from_file or []))
    check_supported(svc)
    image = be.ensure_image(project, svc, pull=svc.pull_policy or "missing",
                            build=build and svc.build is not None, progress=progress)
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
            be.stop_container(cid, None)
            be.remove_container(cid)
            state.delete(cid)
    return code
