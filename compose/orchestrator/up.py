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

from compose.cli.commands._imageutil import image_name
from compose.config.model import Project, Service
from compose.errors import ComposeError
from compose.orchestrator import client, state
from compose.orchestrator import project as proj
from compose.orchestrator.backend import Backend, CreateRequest, ImageInfo
from compose.orchestrator.convergence import Action, Plan, RecreatePolicy, Step, plan_convergence
from compose.orchestrator.executor import Event, EventKind, Executor, Outcome, ServiceRun
from compose.orchestrator.health import resolve_healthcheck
from compose.orchestrator.lock import project_lock
from compose.orchestrator.restart import policy_for_service
from compose.orchestrator.translate import check_supported

log = logging.getLogger(__name__)

Reporter = Callable[[str, str], None]  # (object name, status) → progress output


@dataclass(frozen=True, slots=True)
class UpOptions:
    services: tuple[str, ...] = ()
    no_deps: bool = False
    build: bool = False
    no_build: bool = False
    pull: str = "missing"
    recreate: RecreatePolicy = RecreatePolicy.DIVERGED
    no_start: bool = False
    remove_orphans: bool = False
    scale: Mapping[str, int] = field(default_factory=dict)
    timeout: float | None = None  # stop timeout when recreating
    wait_timeout: float | None = None  # give up waiting for dependency conditions
    wait: bool = False  # --wait: also wait for every healthchecked service to be healthy


@dataclass(slots=True)
class UpResult:
    runs: dict[str, ServiceRun]
    image_ready: dict[str, float]
    created: dict[str, float]
    containers: dict[str, list[str]]
    plan: Plan
    t0: float

    def failures(self) -> list[str]:
        """One reason per service that did not come up."""
        return [r.reason for r in self.runs.values() if r.outcome and r.outcome.value != "done"]


def image_groups(project: Project, names: list[str]) -> dict[str, list[str]]:
    """Services by the image they run (``image:``, else ``<project>-<service>``)."""
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(image_name(project, project.services[n]), []).append(n)
    return groups


def image_source(project: Project, group: list[str]) -> Service:
    """The service that makes a shared image ready: the first one that can build it."""
    services = [project.services[n] for n in group]
    return next((s for s in services if s.build is not None), services[0])


def prepare_networks_and_volumes(project: Project, backend: Backend, names: list[str],
                                 report: Reporter) -> None:
    """Create the networks and named volumes the services ``names`` use (``up`` and ``run``)."""
    used_nets: set[str] = set()
    used_vols: set[str] = set()
    for n in names:
        svc = project.services[n]
        if svc.network_mode is None:
            used_nets.update(svc.networks or {"default": None})
        used_vols.update(m.source for m in svc.volumes if m.type == "volume" and m.source)
    for key, net in project.networks.items():
        if key in used_nets and backend.ensure_network(project, net):
            report(f"Network {net.name}", "Created")
    for key, vol in project.volumes.items():
        if key in used_vols and backend.ensure_volume(project, vol):
            report(f"Volume {vol.name}", "Created")


class _Aggregator:
    """Turns per-container supervisor events into per-service executor events."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
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
        try:
            client.ensure_supervisor(self.project)
            sub = client.Subscription(self.project)
        except BaseException as exc:  # handed to ready()
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
        for n in names:
            check_supported(self.project.services[n])
        nodes = proj.nodes(self.project, names)
        if self.opts.no_start:
            nodes = [type(n)(n.name) for n in nodes]
        executor = Executor(nodes, lambda name: self._apply(name, plan, executor, agg))
        agg = _Aggregator(executor)
        # The supervisor (~0.3 s of interpreter start) comes up while images, networks and the
        # first containers are prepared; only handing a started container over waits for it.
        events = _Events(self.project.name, agg)
        if not self.opts.no_start:
            events.start()
        self._events = events
        try:
            self._prepare_images(names)
            proj.check_health_dependencies(
                self.project, names, {n: i.config.healthcheck for n, i in self.images.items()})
            self._prepare_networks_and_volumes(names)
            plan = self._plan(names)
            runs = executor.run(timeout=self.opts.wait_timeout)
            if self.opts.wait and not self.opts.no_start:
                self._wait_healthy(executor, runs, names)
        finally:
            events.close()
        return UpResult(runs, self.image_ready, self.created, self.containers, plan, self.t0)

    def _wait_healthy(self, executor: Executor, runs: dict[str, ServiceRun],
                      names: list[str]) -> None:
        """``--wait``: every started service with a healthcheck must turn healthy."""
        checked = [n for n in names if runs[n].outcome is Outcome.DONE and resolve_healthcheck(
            self.project.services[n].healthcheck, self.images[n].config.healthcheck)]

        def settled(rs: Mapping[str, ServiceRun]) -> bool:
            return all(rs[n].healthy_at or rs[n].unhealthy is not None or rs[n].exited_at
                       for n in checked)

        executor.wait_for(settled, self.opts.wait_timeout)
        for n in checked:
            run = runs[n]
            if run.healthy_at is not None:
                continue
            run.outcome = Outcome.FAILED
            if run.unhealthy is not None:
                run.reason = f"{n} is unhealthy: {run.unhealthy}".rstrip(": ")
            elif run.exited_at is not None:
                run.reason = f"{n} exited with code {run.exit_code}"
            else:
                run.reason = f"timed out waiting for {n} to be healthy"

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

        groups = list(image_groups(self.project, names).values())
        with ThreadPoolExecutor(max(1, min(8, len(groups))), thread_name_prefix="img") as pool:
            errors = [f.exception() for f in [pool.submit(ready, g) for g in groups]]
        for err in errors:
            if err is not None:
                raise err

    def _prepare_networks_and_volumes(self, names: list[str]) -> None:
        prepare_networks_and_volumes(self.project, self.backend, names, self.report)

    def _plan(self, names: list[str]) -> Plan:
        observed = proj.observed(self.backend.list_containers(self.project.name))
        image_ids = {n: i.id for n, i in self.images.items()}
        desired = proj.desired(self.project, names, image_ids, self.opts.scale)
        plan = plan_convergence(desired, observed, recreate=self.opts.recreate,
                                remove_orphans=self.opts.remove_orphans)
        others = [c for c in observed if c.service in self.project.services
                  and c.service not in names]
        orphans = [o for o in plan.orphans if o not in others]
        if orphans and not self.opts.remove_orphans:
            listed = ", ".join(o.name for o in orphans)
            log.warning("Found orphan containers ([%s]) for this project. If you removed or "
                        "renamed this service in your compose file, you can run this command "
                        "with the --remove-orphans flag to clean it up.", listed)
        for step in plan.steps:
            if step.action is Action.REMOVE and step.service not in self.project.services:
                self._remove(step)
        return plan

    # -- the per-service action ----------------------------------------------------------------

    def _apply(self, name: str, plan: Plan, executor: Executor, agg: _Aggregator) -> None:
        cids: list[str] = []
        for step in plan.for_service(name):
            cid = self._apply_step(step)
            if cid is not None:
                agg.register(name, cid)
                cids.append(cid)
        self.containers[name] = cids
        if self.opts.no_start:
            return
        for step in plan.for_service(name):
            if step.action is Action.NOOP and step.container is not None:
                self._replay_health(executor, name, step.container.id)
        executor.notify(Event(name, EventKind.STARTED))

    def _apply_step(self, step: Step) -> str | None:
        c = step.container
        if step.action is Action.REMOVE:
            self._remove(step)
            return None
        if step.action is Action.NOOP:
            assert c is not None
            self.report(c.name, "Running")
            return c.id
        if step.action in (Action.START, Action.RESTART):
            assert c is not None
            if step.action is Action.RESTART:
                self._stop(c.id, c.name)
            self._start(step.service, c.id, c.name)
            return c.id
        if c is not None:  # RECREATE: the old one goes first (the engine has no rename)
            self.report(c.name, "Recreate")
            self._remove(step)
        return self._create_and_start(step)

    def _create_and_start(self, step: Step) -> str:
        svc = self.project.services[step.service]
        image = self.images[step.service]
        name = self.project.container_name(step.service, step.number)
        labels = proj.container_labels(self.project, svc, step.number, image.id)
        self.report(name, "Creating")
        cid = self.backend.create_container(CreateRequest(self.project, svc, step.number, name,
                                                          labels, image))
        self.created[step.service] = time.monotonic()
        health = resolve_healthcheck(svc.healthcheck, image.config.healthcheck)
        state.save(state.Supervised(cid, self.project.name, svc.name, name, health,
                                    policy_for_service(svc)))
        self.report(name, "Created")
        if not self.opts.no_start:
            self._start(step.service, cid, name)
        return cid

    def _start(self, service: str, cid: str, name: str) -> None:
        self.report(name, "Starting")
        state.update(cid, stopped_by_user=False)
        self.backend.start_container(cid)
        self._events.ready()  # subscribed before the supervisor watches: no event is missed
        client.watch(self.project.name, cid)
        self.report(name, "Started")

    def _stop(self, cid: str, name: str) -> None:
        state.update(cid, stopped_by_user=True)
        self.report(name, "Stopping")
        self.backend.stop_container(cid, self.opts.timeout)
        self.report(name, "Stopped")

    def _remove(self, step: Step) -> None:
        c = step.container
        assert c is not None
        if c.running:
            self._stop(c.id, c.name)
        self.report(c.name, "Removing")
        self.backend.remove_container(c.id)
        state.delete(c.id)
        self.report(c.name, "Removed")

    def _replay_health(self, executor: Executor, service: str, cid: str) -> None:
        """A container left running already has a health status: feed it to the executor."""
        row = state.get(cid)
        if row is None or row.health is None:
            return
        if row.health_status == "healthy":
            executor.notify(Event(service, EventKind.HEALTHY))
        elif row.health_status == "unhealthy":
            executor.notify(Event(service, EventKind.UNHEALTHY, detail=row.health_output))
