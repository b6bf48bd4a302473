"""The in-process API: one :class:`Project`, the operations of the CLI as typed methods.

It loads the compose files through the same pipeline as ``pycompose`` and drives the same
orchestrator (``Up``, ``run_down``, the engine backend): no subprocess, no output parsing.
"""
from __future__ import annotations

import logging
import os
import secrets
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from compose.api.errors import ServiceError, UsageError, stack_failed, translated
from compose.api.results import ContainerStatus, ExecResult, PortAddress

if TYPE_CHECKING:
    from compose.config.model import Project as Model
    from compose.orchestrator.backend import Backend, ContainerRef
    from compose.orchestrator.up import UpOptions

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]  # (object, status) as the CLI's progress lines show
PathLike = str | os.PathLike[str]
PULL_POLICIES = ("always", "missing", "never", "build")


def _quiet(obj: str, status: str) -> None:
    log.debug("%s %s", obj, status)


class Project:
    """A compose project, loaded and validated on construction.

    The inputs are the CLI's: ``files`` (``-f``, default: discovery from the working
    directory), ``name`` (``-p``), ``project_directory``, ``env_files`` (``--env-file``),
    ``env`` (variables that override the process environment for interpolation and
    ``.env``), ``profiles`` (``--profile``). A compose mistake raises
    :class:`~compose.api.ComposeFileError` here, with the CLI's message (``file:line:col``).

    As a context manager it is up (``up()``: built, healthy) inside the block and taken down
    with its volumes when the block ends, also on an exception.

    ``progress`` receives the CLI's progress lines as (object, status) pairs; by default they
    go to this module's logger at DEBUG. ``backend`` replaces the embedded engine (tests).
    The engine's state root is ``PYCOMPOSE_ROOT`` (default ``/var/lib/pycompose``), as for
    the CLI. Run by a non-root user, the first engine call joins the rootless namespaces
    (README "Rootless"): the process must still be single-threaded then.
    """

    def __init__(self, files: Sequence[PathLike] = (), *, name: str | None = None,
                 project_directory: PathLike | None = None, env_files: Sequence[PathLike] = (),
                 env: Mapping[str, str] | None = None, profiles: Sequence[str] = (),
                 progress: Progress | None = None, backend: Backend | None = None) -> None:
        from compose.config import LoadOptions

        if isinstance(files, str | os.PathLike):
            files = [files]
        if isinstance(profiles, str):
            profiles = [profiles]
        self._options = LoadOptions(
            files=tuple(os.fspath(f) for f in files), project_name=name,
            project_directory=os.fspath(project_directory) if project_directory else None,
            env_files=tuple(os.fspath(f) for f in env_files), profiles=tuple(profiles),
            # fixed now: a later reload (a newly targeted profile service) sees the same inputs
            working_dir=os.getcwd(), environ={**os.environ, **(env or {})})
        self._progress = progress or _quiet
        self._backend = backend
        self._targets: tuple[str, ...] = ()  # services ever targeted (enables their profiles)
        self._models: dict[tuple[str, ...], Model] = {}
        self._model(())

    # -- what was loaded -----------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The project name (``-p``, ``name:`` or the directory's name, like the CLI)."""
        return self.config.name

    @property
    def config(self) -> Model:
        """The loaded, validated project model (frozen)."""
        return self._model(self._targets)

    @property
    def services(self) -> tuple[str, ...]:
        """The names of the active services (profiles applied)."""
        return tuple(self.config.services)

    def _model(self, targets: tuple[str, ...]) -> Model:
        key = tuple(sorted(set(targets)))
        if key not in self._models:
            import dataclasses

            from compose.config import load

            with translated():
                self._models[key] = load(dataclasses.replace(self._options, services=key))
        return self._models[key]

    def _target(self, services: Sequence[str]) -> Model:
        """The model with ``services`` enabled (remembered, so ``down`` sees them too)."""
        targets = tuple(sorted({*self._targets, *services}))
        model = self._model(targets)
        self._check(model, services)
        self._targets = targets
        return model

    @staticmethod
    def _check(model: Model, services: Sequence[str]) -> None:
        for s in services:
            if s not in model.services:
                raise ServiceError(f"no such service: {s}")

    def _be(self) -> Backend:
        if self._backend is None:
            if os.geteuid() != 0:  # rootless: join the user's namespaces, as the CLI does
                from engine.rootless.join import enter

                with translated():
                    enter()
            from compose.orchestrator.engine_backend import EngineBackend

            self._backend = EngineBackend()
        return self._backend

    # -- the stack -----------------------------------------------------------------------------

    def up(self, services: Sequence[str] | None = None, *, wait: bool = True,
           build: bool = True, pull: str = "missing", timeout: float | None = None) -> None:
        """Create and start the services (all active ones by default) with their
        dependencies; converge what is already there, like ``pycompose up -d``.

        ``wait``: return once every service is healthy (with a healthcheck) or running, and
        one-shots others depend on have completed (``--wait``). ``build``: build images of
        services with ``build:`` first (``--build``; the build cache makes this cheap);
        False uses the images as they are (``--no-build``). ``pull``: ``missing``,
        ``always``, ``never`` or ``build`` (``--pull``). ``timeout``: seconds to wait for
        dependency conditions and ``wait`` (``--wait-timeout``); None waits as long as needed.
        Raises :class:`~compose.api.StackError` naming each service that did not come up
        (:class:`~compose.api.WaitTimeout` when it ran out of time).
        """
        from compose.orchestrator.up import UpOptions

        if pull not in PULL_POLICIES:
            raise UsageError(f"invalid pull policy {pull!r} (one of {', '.join(PULL_POLICIES)})")
        targets = tuple(services or ())
        model = self._target(targets)
        self._up(model, UpOptions(services=targets, build=build, no_build=not build,
                                  pull=pull, wait=wait, wait_timeout=timeout))

    def _up(self, model: Model, opts: UpOptions) -> None:
        from compose.orchestrator.up import Up

        with translated():
            result = Up(model, self._be(), opts, self._progress).run()
        failures = result.failures()
        if failures:
            raise stack_failed("up", failures)

    def down(self, *, volumes: bool = True, timeout: float | None = None,
             remove_orphans: bool = False) -> None:
        """Stop and remove the project's containers and networks, and (``volumes``) its
        named and anonymous volumes; external ones are never touched. ``timeout``: seconds
        each container gets to stop before SIGKILL (default: its ``stop_grace_period``).
        Works from the engine's labels, so it also cleans up after a failed ``up``."""
        from compose.orchestrator.down import DownOptions, run_down

        with translated():
            failures = run_down(self.config, self.name, self._be(),
                                DownOptions(volumes=volumes, remove_orphans=remove_orphans,
                                            timeout=timeout), self._progress)
        if failures:
            raise stack_failed("down", failures)

    def __enter__(self) -> Project:
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.down()

    def stop(self, *services: str, timeout: float | None = None) -> None:
        """Stop the services' running containers (all services by default), dependents
        first; they keep their state and can be started again."""
        from compose.orchestrator.down import stop_containers

        cs = [c for c in self._containers(services) if c.running]
        with translated():
            failures = stop_containers(self._be(), cs, timeout, self._progress)
        if failures:
            raise stack_failed("stop", failures)

    def start(self, *services: str) -> None:
        """Start the services' existing containers (all by default), dependencies first."""
        from compose.orchestrator.start import start_containers

        cs = self._containers(services)
        with translated():
            failures = start_containers(self._be(), self.name, cs, self._progress)
        if failures:
            raise stack_failed("start", failures)

    def restart(self, *services: str, timeout: float | None = None) -> None:
        """Stop, then start the services' containers (all by default)."""
        self.stop(*services, timeout=timeout)
        self.start(*services)

    # -- looking at it -------------------------------------------------------------------------

    def ps(self, *services: str) -> list[ContainerStatus]:
        """One row per container of the services (all by default), stopped ones included,
        sorted by service and replica number; one-off ``run`` containers are left out."""
        from compose.orchestrator import client, state
        from compose.orchestrator import labels as L
        from compose.orchestrator.lookup import number

        cs = self._containers(services)
        with translated():
            if any(c.running for c in cs):
                client.ensure_supervisor(self.name)  # health comes from the supervisor
            rows = []
            for c in cs:
                row = state.get(c.id)
                health = row.health_status if row is not None and row.health is not None \
                    else None
                rows.append(ContainerStatus(
                    service=c.labels.get(L.SERVICE, ""), name=c.name,
                    id=c.id, number=number(c), state=c.state, health=health,
                    exit_code=None if c.running else c.exit_code))
        return rows

    def logs(self, service: str | None = None, *, tail: int | None = None,
             since: str | None = None) -> str:
        """The output (stdout and stderr) of the service's containers so far, all services
        when None, merged in time order. ``tail``: only the last N lines of each container;
        ``since``: RFC 3339 time, unix time or a duration like ``10m``."""
        from compose.orchestrator.lookup import merged_logs

        cs = self._containers([service] if service else [])
        with translated():
            lines = merged_logs(self._be(), cs, since=since, tail=tail)
        return _text(t for _, _, t, _ in lines)

    def port(self, service: str, container_port: int, *, protocol: str = "tcp",
             index: int | None = None) -> PortAddress:
        """Where ``container_port/protocol`` of the service (replica ``index``, default the
        first) is published: ``(host, port)`` to connect to from this machine. The host is
        the bound address, or loopback when bound to all addresses. ``pycompose port``."""
        from engine import networks

        c = self._running(service, index)
        with translated():
            bindings = networks.published_ports(c.name)
        for b in bindings:
            if b.container_port == container_port and b.protocol == protocol:
                host = b.host_ip or "0.0.0.0"
                host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
                return PortAddress(host, b.host_port)
        raise ServiceError(f"no port {container_port}/{protocol} published for {service}")

    def wait_healthy(self, service: str, timeout: float | None = None) -> None:
        """Block until every container of the service is healthy (event-driven: woken by
        the supervisor's health events). Raises :class:`~compose.api.WaitTimeout` after
        ``timeout`` seconds, :class:`~compose.api.StackError` when a container turns
        unhealthy or exits, :class:`~compose.api.ServiceError` without a healthcheck."""
        from compose.api.waits import wait_healthy

        cs = self._containers([service])
        if not cs:
            raise ServiceError(f"service {service!r} has no container")
        with translated():
            wait_healthy(self.name, service, [c.id for c in cs], timeout)

    def diagnostics(self, tail: int = 50) -> str:
        """A report for a failed test: ``ps`` and the last ``tail`` log lines per service."""
        from compose.api.waits import diagnostics

        return diagnostics(self, tail)

    # -- commands in containers ----------------------------------------------------------------

    def exec(self, service: str, command: Sequence[str] | str, *,
             env: Mapping[str, str] | None = None, user: str = "", workdir: str = "",
             index: int | None = None) -> ExecResult:
        """Run ``command`` (an argv list; a string is split like a shell would) in the
        running container of the service (replica ``index``, default the first), like
        ``pycompose exec -T``, and return its exit code and output."""
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        c = self._running(service, index)
        with translated():
            code, out, err = self._be().exec_output(
                c.id, argv, env=tuple(f"{k}={v}" for k, v in (env or {}).items()),
                user=user, workdir=workdir)
        return ExecResult(code, out.decode(errors="replace"), err.decode(errors="replace"))

    def run(self, service: str, command: Sequence[str] | str | None = None, *,
            remove: bool = True, env: Mapping[str, str] | None = None,
            user: str | None = None, workdir: str | None = None,
            entrypoint: str | None = None, deps: bool = True) -> ExecResult:
        """Run a one-off container of the service (``pycompose run -T``): its dependencies
        are brought up first (unless ``deps`` is False); returns when it exits, with its
        exit code and output. ``remove`` deletes the container afterwards (``--rm``)."""
        from compose.orchestrator import project as proj
        from compose.orchestrator.oneoff import create_one_off, one_off_service, remove_one_off
        from compose.orchestrator.up import UpOptions

        argv = shlex.split(command) if isinstance(command, str) else command
        model = self._target([service])
        needed = [d for d in proj.with_dependencies(model, [service]) if d != service]
        if deps and needed:
            self._up(model, UpOptions(services=tuple(needed)))  # as `pycompose run` does
        svc = one_off_service(model.services[service], entrypoint=entrypoint, user=user,
                              workdir=workdir, env=[f"{k}={v}" for k, v in (env or {}).items()],
                              ports=(), service_ports=False)
        be = self._be()
        name = f"{self.name}-{service}-run-{secrets.token_hex(6)}"
        with translated():
            cid = create_one_off(model, be, svc, name=name, command=argv, use_aliases=False,
                                 progress=self._progress)
            try:
                return self._run_to_end(be, cid)
            finally:
                if remove:
                    remove_one_off(be, cid)

    def _run_to_end(self, be: Backend, cid: str) -> ExecResult:
        from compose.orchestrator.start import start_containers

        ref = next(c for c in be.list_containers(self.name) if c.id == cid)
        failures = start_containers(be, self.name, [ref], self._progress)
        if failures:
            raise stack_failed("run", failures)
        out: dict[str, list[str]] = {"stdout": [], "stderr": []}
        for ln in be.logs(cid, follow=True, since=None, tail=None):
            out.setdefault(ln.stream, []).append(ln.text)
        code = be.wait_container(cid)
        return ExecResult(code, _text(out["stdout"]), _text(out["stderr"]))

    # -- helpers -------------------------------------------------------------------------------

    def _containers(self, services: Sequence[str]) -> list[ContainerRef]:
        from compose.orchestrator.lookup import containers_of

        self._check(self.config, services)
        with translated():
            return containers_of(self._be(), self.name, services)

    def _running(self, service: str, index: int | None) -> ContainerRef:
        from compose.errors import ComposeError
        from compose.orchestrator.lookup import pick_container

        self._check(self.config, [service])
        try:
            return pick_container(self._be(), self.name, service, index)
        except ComposeError as exc:
            raise ServiceError(str(exc), original=exc) from None

    def __repr__(self) -> str:
        return f"Project(name={self.name!r}, files={list(self.config.compose_files)!r})"


def _text(lines: Iterable[str]) -> str:
    """Log lines (stored without their newline) as text."""
    return "".join(f"{t}\n" for t in lines)
