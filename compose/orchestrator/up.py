"""``up``: images → networks → volumes → convergence plan → walk the graph.

Images are made ready in parallel; then the executor walks the services: each action applies
the service's planned steps (create / recreate / start / restart) and reports ``STARTED``.
Health and exits come from the project supervisor's event stream, aggregated per service (a
service is healthy when all its replicas are), so a dependent starts the moment its condition
holds.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from compose.config.model import Project
from compose.errors import ComposeError
from compose.orchestrator import client, state
from compose.orchestrator import labels as L
from compose.orchestrator import project as proj
from compose.orchestrator.backend import Backend, CreateRequest, ImageInfo
from compose.orchestrator.convergence import Action, Plan, RecreatePolicy, Step, plan_convergence
from compose.orchestrator.executor import Event, EventKind, Executor, Outcome, ServiceRun
from compose.orchestrator.gates import GateReporter, WaitKind, wait_kinds, wait_verdict
from compose.orchestrator.health import resolve_healthcheck
from compose.orchestrator.hooks import run_hooks
from compose.orchestrator.lock import project_lock
from compose.orchestrator.prepare import (
    diverged_volumes,
    image_groups,
    image_source,
    image_waves,
    prepare_networks_and_volumes,
    volume_users,
    with_build_inputs,
)
from compose.orchestrator.restart import policy_for_service
from compose.orchestrator.translate import check_supported

log = logging.getLogger(__name__)

Reporter = Callable[[str, str], None]  # (object name, status) → progress output


@dataclass(frozen=True, slots=True)
class UpOptions:
    """The options of ``up``."""
    services: tuple[str, ...] = ()
    no_deps: bool = False
    build: bool = False
    no_build: bool = False
    pull: str = "missing"
    recreate: RecreatePolicy = RecreatePolicy.DIVERGED
    no_start: bool = False
    remove_orphans: bool = False
    ignore_orphans: bool = False  # COMPOSE_IGNORE_ORPHANS: neither reported nor removed
    recreate_volumes: bool = False  # -y: a volume whose definition changed is recreated
    scale: Mapping[str, int] = field(default_factory=dict)
    timeout: float | None = None  # stop timeout when recreating
    wait_timeout: float | None = None  # give up waiting for dependency conditions
    wait: bool = False  # --wait: also wait for every healthchecked service to be healthy
    renew_anon_volumes: bool = False  # -V: a recreated container gets fresh anonymous volumes
    parallel: int = -1  # --parallel / COMPOSE_PARALLEL_LIMIT: concurrent operations, -1: no bound


@dataclass(slots=True)
class UpResult:
    """What ``up`` did: each service's run, and when its image was ready and its containers
    were created."""
    runs: dict[str, ServiceRun]
    image_ready: dict[str, float]
    created: dict[str, float]
    containers: dict[str, list[str]]
    plan: Plan
    t0: float

    def failures(self) -> list[str]:
        """One reason per service that did not come up."""
        return [r.reason for r in self.runs.values() if r.outcome and r.outcome.value != "done"]


class _Aggregator:
    """Turns per-container supervisor events into per-service executor events."""

    def __init__(self, executor: Executor,
                 also: Callable[[Event], None] | None = None) -> None:
        self.executor = executor
        self.also = also  # another listener (progress of the waits)
        self.lock = threading.Lock()
        self.service_of: dict[str, str] = {}
        self.members: dict[str, set[str]] = {}
        self.healthy: set[str] = set()
        self.exited: dict[str, int] = {}

    def register(self, service: str, cid: str) -> None:
        with self.lock:
            self.service_of[cid] = service
            self.members.setdefault(service, set()).add(cid)

    def feed(self, ev: Mapping[str, Any]) -> None:
        with self.lock:
            cid = str(ev.get("container"))
            service = self.service_of.get(cid)
            if service is None:
                return
            members = self.members[service]
            kind = ev.get("event")
            # when it happened in the supervisor, on this process's monotonic clock
            at = time.monotonic() - max(0.0, time.time() - float(ev.get("time") or time.time()))
            out: Event | None = None
            if kind == "healthy":
                self.healthy.add(cid)
                if members <= self.healthy:
                    out = Event(service, EventKind.HEALTHY, at=at)
            elif kind == "unhealthy":
                out = Event(service, EventKind.UNHEALTHY, detail=str(ev.get("detail") or ""),
                            at=at)
            elif kind == "exited" and ev.get("will_restart"):
                pass  # its restart policy brings it back: like compose, not an exit to act on
            elif kind == "exited":
                self.exited[cid] = int(ev.get("exit_code") or 0)
                if members <= set(self.exited):
                    codes = [self.exited[m] for m in members]
                    code = next((c for c in codes if c != 0), 0)
                    out = Event(service, EventKind.EXITED, exit_code=code, at=at)
            elif kind == "started":
                self.exited.pop(cid, None)
        if out is not None:
            self.executor.notify(out)
            if self.also is not None:
                self.also(out)


class _Events(threading.Thread):
    """Starts the project supervisor, subscribes to its events and feeds them to the
    aggregator; :meth:`ready` blocks until the subscription is in place (re-raising a
    failure to start the supervisor)."""

    def __init__(self, project: str, agg: _Aggregator) -> None:
        super().__init__(daemon=True, name="events")
        self.project = project
        self.agg = agg
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._sub: client.Subscription | None = None
        self._closed = False
        self._lock = threading.Lock()

    def run(self) -> None:
        while True:  # again when the supervisor is killed: a new one re-adopts and reports
            try:
                client.ensure_supervisor(self.project)
                sub = client.Subscription(self.project)
            except BaseException as exc:  # handed to ready() (or logged once it was ready)
                if self._ready.is_set():
                    log.warning("project %s: no supervisor events: %s", self.project, exc)
                else:
                    self._error = exc
                    self._ready.set()
                return
            with self._lock:
                self._sub = sub
                if self._closed:
                    sub.close()
            self._ready.set()
            for event in sub:
                self.agg.feed(event)
            with self._lock:
                if self._closed:
                    return
            log.warning("project %s: the supervisor went away; starting a new one",
                        self.project)

    def ready(self) -> None:
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._sub is not None:
                self._sub.close()


class Up:
    """One ``up`` run (construct, then :meth:`run`)."""

    def __init__(self, project: Project, backend: Backend, opts: UpOptions,
                 report: Reporter | None = None) -> None:
        self.project = project
        self.backend = backend
        self.opts = opts
        self.report = report or (lambda obj, status: None)
        self.images: dict[str, ImageInfo] = {}
        self.image_ready: dict[str, float] = {}
        self.created: dict[str, float] = {}
        self.containers: dict[str, list[str]] = {}
        self.names: dict[str, list[str]] = {}
        self.t0 = time.monotonic()

    def service_names(self) -> list[str]:
        names = list(self.opts.services) or list(self.project.services)
        for n in names:
            if n not in self.project.services:
                raise ComposeError(f"no such service: {n}")
        return names if self.opts.no_deps else proj.with_dependencies(self.project, names)

    def run(self) -> UpResult:
        """Bring the services up; raises ComposeError for problems found before any start."""
        with project_lock(self.project.name):
            return self._run()

    def _run(self) -> UpResult:
        names = self.service_names()
        proj.check_container_names(self.project, names)
        self.project.require_supported(names)
        for n in names:
            check_supported(self.project.services[n])
        if self.opts.no_deps:
            self._check_shared(names)
        nodes = proj.nodes(self.project, names)
        if self.opts.no_start:
            nodes = [type(n)(n.name) for n in nodes]
        executor = Executor(nodes, lambda name: self._apply(name, plan, executor, agg),
                            max_workers=self._workers(16), describe=self._container_of)
        self._gates = GateReporter(nodes, self.report)
        agg = _Aggregator(executor, self._gates.observe)
        # The supervisor (~0.3 s of interpreter start) comes up while images, networks and the
        # first containers are prepared; only handing a started container over waits for it.
        events = _Events(self.project.name, agg)
        settle: Callable[[], None] = lambda: None  # noqa: E731
        if not self.opts.no_start:
            events.start()
            settle = self._start_helpers_early(names)
        self._events = events
        try:
            self._prepare_images(names)
            executor.no_healthcheck = proj.without_healthcheck(
                self.project, names, {n: i.config.healthcheck for n, i in self.images.items()})
            self._prepare_networks_and_volumes(names)
            plan = self._plan(names)
            runs = executor.run(timeout=self.opts.wait_timeout)
            if self.opts.wait and not self.opts.no_start:
                self._wait_ready(executor, runs, names)
        finally:
            events.close()
            if not self.opts.no_start:  # a supervisor still starting would outlive a `down`
                events.join()           # that follows a failed up at once; so would a
                settle()                # DNS daemon
        return UpResult(runs, self.image_ready, self.created, self.containers, plan, self.t0)

    def _check_shared(self, names: list[str]) -> None:
        """``--no-deps``: a service sharing another's volumes or namespaces needs that
        service's container, which this up does not create (docker compose's check)."""
        present = {c.labels.get(L.SERVICE) for c in self.backend.list_containers(
            self.project.name) if c.labels.get(L.ONEOFF) != "True"}
        for n in names:
            svc = self.project.services[n]
            shared = [(r.split(":", 1)[0], "volume") for r in svc.volumes_from
                      if not r.startswith("container:")]
            shared += [(mode.split(":", 1)[1], what) for mode, what in (
                (svc.network_mode, "network namespace"), (svc.ipc, "IPC namespace"))
                if mode and mode.startswith("service:")]
            for dep, what in shared:
                if dep not in names and dep not in present:
                    raise ComposeError(f"cannot share {what} with service {dep}: "
                                       "container missing")

    def _start_helpers_early(self, names: list[str]) -> Callable[[], None]:
        """Unless every service already runs, let the engine begin starting what container
        starts need (the shim fork server; the DNS daemon when a container gets its own
        netns) while images and networks are prepared; what waits for those still
        starting."""
        running = {c.labels.get(L.SERVICE)
                   for c in self.backend.list_containers(self.project.name) if c.running}
        if set(names) <= running:
            return lambda: None
        sandboxes = any(self.project.services[n].network_mode in (None, "bridge")
                        for n in names if n not in running)
        return self.backend.prepare_starts(sandboxes)

    def _wait_ready(self, executor: Executor, runs: dict[str, ServiceRun],
                    names: list[str]) -> None:
        """``--wait``: every started service must turn healthy (with a healthcheck) or stay
        running; one-shots that others need completed must exit 0 (compose's rules)."""
        started = [n for n in names if runs[n].outcome is Outcome.DONE]
        checked = [n for n in started if resolve_healthcheck(
            self.project.services[n].healthcheck, self.images[n].config.healthcheck)]
        targets = [d for s in self.project.services.values() for d, spec in s.depends_on.items()
                   if spec.condition == "service_completed_successfully"]
        kinds = wait_kinds(started, checked, targets)
        for n in started:
            for cname in self.names.get(n, ()):
                self.report(cname, "Waiting")
        deadline = None if self.opts.wait_timeout is None else (
            time.monotonic() + self.opts.wait_timeout)

        def settled(rs: Mapping[str, ServiceRun]) -> bool:
            now = time.monotonic()
            return all(wait_verdict(n, k, rs[n], now) is not None for n, k in kinds.items())

        while True:  # woken by events; a short tick lets the running grace elapse
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            tick = 0.1 if WaitKind.RUNNING in kinds.values() else None
            limit = tick if left is None else min(left, tick or left)
            if executor.wait_for(settled, limit):
                break
        now = time.monotonic()
        for n, kind in kinds.items():
            verdict = wait_verdict(n, kind, runs[n], now)
            goal = "complete" if kind is WaitKind.COMPLETED else kind.value
            status, reason = verdict or ("Error", self._timed_out(n, goal))
            for cname in self.names.get(n, ()):
                self.report(cname, status)
            if reason:
                runs[n].outcome, runs[n].reason = Outcome.FAILED, reason

    def _timed_out(self, name: str, goal: str) -> str:
        """Docker compose's words for a --wait-timeout that ran out (the service named too)."""
        from compose.config.syntax import format_duration

        timeout = format_duration(self.opts.wait_timeout or 0)
        return f"application not healthy after {timeout}: {name} is not {goal} yet"

    # -- preparation ---------------------------------------------------------------------------

    def _prepare_images(self, names: list[str]) -> None:
        """Make each distinct image ready once (in parallel): services sharing an ``image:``
        name are built or pulled by one of them (the first with ``build:``), like compose."""
        def ready(group: list[str]) -> None:
            svc = image_source(self.project, group)
            pull = svc.pull_policy or self.opts.pull
            if self.opts.no_build and svc.build is not None:
                # --no-build: like compose, as if the service had no build section
                svc = dataclasses.replace(svc, build=None)
                pull = "missing" if pull == "build" else pull
            build = self.opts.build and svc.build is not None
            info = self.backend.ensure_image(self.project, svc, pull=pull, build=build,
                                             progress=self.report)
            now = time.monotonic()
            for name in group:
                self.images[name] = info
                self.image_ready[name] = now

        groups = image_groups(self.project, with_build_inputs(self.project, names))
        for wave in image_waves(self.project, groups):
            with ThreadPoolExecutor(max(1, min(self._workers(8), len(wave))),
                                    thread_name_prefix="img") as pool:
                errors = [f.exception() for f in [pool.submit(ready, g) for g in wave]]
            for err in errors:
                if err is not None:
                    raise err

    def _container_of(self, service: str) -> str:
        """The container a dependency failure names (docker compose's wording)."""
        made = self.names.get(service)
        return made[0] if made else f"{self.project.name}-{service}-1"

    def _workers(self, default: int) -> int:
        """Concurrent operations: ``default``, bounded by --parallel when it is set."""
        limit = self.opts.parallel
        return default if limit is None or limit <= 0 else min(default, limit)

    def _prepare_networks_and_volumes(self, names: list[str]) -> None:
        for key in diverged_volumes(self.project, self.backend, names):
            self._diverged_volume(key)
        prepare_networks_and_volumes(self.project, self.backend, names, self.report)

    def _diverged_volume(self, key: str) -> None:
        """docker compose asks before recreating a volume whose definition changed (its data
        is lost); ``-y`` answers yes: the containers mounting it go, then the volume."""
        name = self.project.volumes[key].name
        if not self.opts.recreate_volumes:
            log.warning('Volume "%s" exists but doesn\'t match configuration in compose file; '
                        "kept as it is (up -y recreates it, data will be lost)", name)
            return
        users = volume_users(self.project, key)
        for c in proj.observed(self.backend.list_containers(self.project.name)):
            if c.service in users:
                self._remove(Step(Action.REMOVE, c.service, c.number, c, "volume changed"))
        self.report(f"Volume {name}", "Removing")
        self.backend.remove_volume(name)
        self.report(f"Volume {name}", "Removed")

    def _plan(self, names: list[str]) -> Plan:
        observed = proj.observed(self.backend.list_containers(self.project.name))
        image_ids = {n: i.id for n, i in self.images.items()}
        desired = proj.desired(self.project, names, image_ids, self.opts.scale)
        known = [*self.project.services, *self.project.disabled_services]
        remove = self.opts.remove_orphans and not self.opts.ignore_orphans
        plan = plan_convergence(desired, observed, recreate=self.opts.recreate,
                                remove_orphans=remove, known=known)
        orphans = plan.orphans
        if orphans and not self.opts.remove_orphans and not self.opts.ignore_orphans:
            listed = ", ".join(o.name for o in orphans)
            log.warning("Found orphan containers ([%s]) for this project. If you removed or "
                        "renamed this service in your compose file, you can run this command "
                        "with the --remove-orphans flag to clean it up.", listed)
        for step in plan.steps:
            if step.action is Action.REMOVE and step.reason == "orphan":
                self._remove(step)
        return plan

    # -- the per-service action ----------------------------------------------------------------

    def _apply(self, name: str, plan: Plan, executor: Executor, agg: _Aggregator) -> None:
        cids: list[str] = []
        names: list[str] = []
        for step in plan.for_service(name):
            # registered before its start: a container may exit before start() returns
            made = self._apply_step(step, lambda cid: agg.register(name, cid))
            if made is not None:
                cids.append(made[0])
                names.append(made[1])
        self.containers[name] = cids
        self.names[name] = names
        if self.opts.no_start:
            return
        for step in plan.for_service(name):
            if step.action is Action.NOOP and step.container is not None:
                self._replay_health(executor, name, step.container.id)
        executor.notify(Event(name, EventKind.STARTED))
        self._gates.started(name, names)

    def _apply_step(self, step: Step, register: Callable[[str], None]
                    ) -> tuple[str, str] | None:
        """Apply one step; the (id, name) of the container the service has from it
        (``register`` gets the id before the container is started)."""
        c = step.container
        if step.action is Action.REMOVE:
            self._remove(step)
            return None
        if c is not None and step.action is not Action.RECREATE:
            register(c.id)
        if step.action is Action.NOOP:
            assert c is not None
            self.report(c.name, "Running")
            return c.id, c.name
        if step.action in (Action.START, Action.RESTART):
            assert c is not None
            if step.action is Action.RESTART:
                self._stop(c.id, c.name, step.service)
            self._start(step.service, c.id, c.name)
            return c.id, c.name
        anon: dict[str, str] = {}
        if c is not None:  # RECREATE: the old one goes first (the engine has no rename)
            self.report(c.name, "Recreate")
            anon = self.backend.anonymous_volumes(c.id)
            self._remove(step)
        return self._create_and_start(step, register, anon)

    def _create_and_start(self, step: Step, register: Callable[[str], None],
                          replaced_anon: dict[str, str] | None = None) -> tuple[str, str]:
        """Create (and start) a container; ``replaced_anon`` are the anonymous volumes of the
        container it replaces: carried over like docker compose does, unless -V."""
        replaced_anon = replaced_anon or {}
        svc = self.project.services[step.service]
        image = self.images[step.service]
        name = self.project.container_name(step.service, step.number)
        labels = proj.container_labels(self.project, svc, step.number, image.id)
        self.report(name, "Creating")
        carried = {} if self.opts.renew_anon_volumes else replaced_anon
        cid = self.backend.create_container(CreateRequest(self.project, svc, step.number, name,
                                                          labels, image, anon_volumes=carried))
        self._drop_replaced_volumes(cid, replaced_anon)
        self.created[step.service] = time.monotonic()
        health = resolve_healthcheck(svc.healthcheck, image.config.healthcheck)
        state.save(state.Supervised(cid, self.project.name, svc.name, name, health,
                                    policy_for_service(svc)))
        self.report(name, "Created")
        register(cid)
        if not self.opts.no_start:
            self._start(step.service, cid, name)
        return cid, name

    def _drop_replaced_volumes(self, cid: str, replaced: dict[str, str]) -> None:
        """Remove the replaced container's anonymous volumes the new one did not take (all of
        them with -V), so none is left dangling."""
        if not replaced:
            return
        kept = set(self.backend.anonymous_volumes(cid).values())
        for vol in sorted(set(replaced.values()) - kept):
            self.report(f"Volume {vol}", "Removing")
            self.backend.remove_volume(vol)
            self.report(f"Volume {vol}", "Removed")

    def _start(self, service: str, cid: str, name: str) -> None:
        self.report(name, "Starting")
        state.update(cid, stopped_by_user=False)
        self.backend.start_container(cid)
        self._events.ready()  # subscribed before the supervisor watches: no event is missed
        client.watch(self.project.name, cid)
        run_hooks(self.backend, cid, service, self.project.services[service].post_start)
        self.report(name, "Started")

    def _stop(self, cid: str, name: str, service: str) -> None:
        state.update(cid, stopped_by_user=True)
        self.report(name, "Stopping")
        svc = self.project.services.get(service)
        if svc is not None:  # an orphan has no hooks any more
            run_hooks(self.backend, cid, service, svc.pre_stop)
        self.backend.stop_container(cid, self.opts.timeout)
        self.report(name, "Stopped")

    def _remove(self, step: Step) -> None:
        c = step.container
        assert c is not None
        if c.running:
            self._stop(c.id, c.name, step.service)
        self.report(c.name, "Removing")
        self.backend.remove_container(c.id)
        state.delete(c.id)
        self.report(c.name, "Removed")

    def _replay_health(self, executor: Executor, service: str, cid: str) -> None:
        """A container left running already has a health status: feed it to the executor."""
        row = state.get(cid)
        if row is None or row.health is None:
            return
        event = None
        if row.health_status == "healthy":
            event = Event(service, EventKind.HEALTHY)
        elif row.health_status == "unhealthy":
            event = Event(service, EventKind.UNHEALTHY, detail=row.health_output)
        if event is not None:
            executor.notify(event)
            self._gates.observe(event)
