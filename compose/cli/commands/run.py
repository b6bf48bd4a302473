"""``pycompose run``: a one-off container for a service (dependencies started first)."""
from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import Progress, backend
from compose.cli.commands.up import quiet_steps
from compose.cli.options import apply_pull_flag, env_flag
from compose.errors import ComposeError

if TYPE_CHECKING:  # the orchestrator is imported when the command runs, not for `--help`
    from compose.config.model import Project, Service
    from compose.orchestrator.backend import Backend


_NO_TERMINAL = ("cannot attach stdin to a TTY-enabled container because stdin is not a "
                "terminal")  # docker compose run's words


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""
    app.command("run", help="Run a one-off command on a service.",
                context_settings={"allow_interspersed_args": False})(run_command)


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
    no_tty: Annotated[bool, typer.Option("-T", "--no-TTY", "--no-tty", help="Disable "
                                         "pseudo-TTY allocation (default: a TTY when stdin "
                                         "and stdout are terminals).")] = False,
    tty: Annotated[bool, typer.Option("-t", "--tty", help="Allocate a pseudo-TTY (the "
                                      "default when stdin is a terminal; an error otherwise)."
                                      )] = False,
    interactive: Annotated[bool, typer.Option("-i", "--interactive/--no-interactive",
                                              show_default=False,
                                              help="Keep STDIN open and attach it (default)."
                                              )] = True,
    label: Annotated[list[str] | None, typer.Option("-l", "--label", "--labels",
                                                    metavar="KEY=VAL",
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
    volume: Annotated[list[str] | None, typer.Option("-v", "--volume", "--volumes",
                                                     metavar="SRC:DST[:MODE]",
                                                     help="Bind mount a host path or mount a "
                                                     "declared volume.")] = None,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans", help="Remove containers "
                                                 "for services not defined in the compose "
                                                 "file.")] = False,
) -> int:
    """Start the dependencies (unless --no-deps), then run SERVICE once; its exit code."""
    import secrets

    from compose.orchestrator import client
    from compose.orchestrator import project as proj
    from compose.orchestrator.hooks import run_hooks
    from compose.orchestrator.oneoff import (
        create_one_off,
        one_off_service,
        remove_one_off,
        run_volumes,
        with_volumes,
    )
    from compose.orchestrator.up import Up, UpOptions

    project: Project = apply_pull_flag(ctx.obj.load_project(services=(service,)), pull)
    if service not in project.services:
        raise ComposeError(f"no such service: {service}")
    mounts = run_volumes(volume, project, os.getcwd()) if volume else ()
    be = backend()
    progress = quiet_steps(Progress("quiet" if quiet else ctx.obj.progress), pull=quiet_pull,
                           build=quiet_build)
    deps = [d for d in proj.with_dependencies(project, [service]) if d != service]
    if deps and not no_deps:
        opts = UpOptions(services=tuple(deps), remove_orphans=remove_orphans,
                         ignore_orphans=env_flag(project.environment, "COMPOSE_IGNORE_ORPHANS"))
        result = Up(project, be, opts, progress).run()
        if result.failures():
            for f in result.failures():
                terminal.error(f)
            return 1
    svc = one_off_service(project.services[service], entrypoint=entrypoint, user=user,
                          workdir=workdir, env=env or [], ports=publish or [],
                          service_ports=service_ports, lookup=project.environment)
    project.require_supported([service])
    svc = _with_overrides(svc, label or [], cap_add or [], cap_drop or [],
                          _env_files(env_from_file or []))
    if mounts:
        svc = with_volumes(svc, mounts)
    # like docker compose, also with -d (attach later): a terminal when ours is one, stdin
    # kept open unless --no-interactive
    from compose.cli.commands.exec import want_tty

    svc = dataclasses.replace(svc, tty=want_tty(no_tty, tty, _NO_TERMINAL),
                              stdin_open=interactive)
    cname = name or f"{project.name}-{service}-run-{secrets.token_hex(6)}"
    cid = create_one_off(project, be, svc, name=cname, command=command,
                         use_aliases=use_aliases, progress=progress,
                         pull=svc.pull_policy or "missing", build=build and svc.build is not None,
                         auto_remove=rm and detach)
    be.start_container(cid)
    client.watch(project.name, cid)
    try:  # docker compose runs the service's post_start hooks for `run` too
        run_hooks(be, cid, svc.name, svc.post_start)
    except ComposeError:
        if rm and not detach:
            remove_one_off(be, cid)
        raise
    if detach:
        terminal.line(cname)
        return 0
    detached = False
    try:
        code = _attach(be, cid, interactive)
        detached = code is None
    finally:
        if rm and not detached:  # also when the attach failed: --rm leaves nothing behind
            remove_one_off(be, cid)
    if code is None:  # detach keys: the container keeps running
        terminal.error("read escape sequence")
        return 1
    return code


def _attach(be: Backend, cid: str, interactive: bool) -> int | None:
    """Relay the one-off container's streams from its start (its output since then is
    replayed); the exit code, None when detached. A container gone before the attach could
    connect has its output printed from the log."""
    from compose.orchestrator.backend import NotRunning

    try:
        return be.attach(cid, stdin=interactive, sig_proxy=True, detach_keys="",
                         replay=True, stdin_once=True)
    except NotRunning:
        pass
    for ln in be.logs(cid, follow=False, since=None, tail=None):
        stream = sys.stderr if ln.stream == "stderr" else sys.stdout  # each on its own
        stream.write(ln.text.rstrip("\n") + "\n")
        stream.flush()
    return be.wait_container(cid)
