"""``down`` and ``stop``: the executor in reverse over what the engine holds for the project.

Works from labels alone, so it cleans up after a failed or SIGKILLed ``up`` and without the
compose file's services (orphans included with ``--remove-orphans``). External networks and
volumes are never touched.
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from compose.config.model import Project
from compose.errors import ComposeError
from compose.orchestrator import client, state
from compose.orchestrator import labels as L
from compose.orchestrator.backend import Backend, ContainerRef
from compose.orchestrator.executor import Dependency, Executor, Node, Outcome
from compose.orchestrator.hooks import HookError, Hooks, project_hooks, run_hooks
from compose.orchestrator.lock import project_lock
from engine.paths import state_root

log = logging.getLogger(__name__)

Reporter = Callable[[str, str], None]
# Containers removed at once. Removing is mostly waiting (the kernel's RTNL lock for the veth,
# the store's writer queue), and more threads than that only contend: with 16, a 50-service
# down's stops took longer behind them and its end came no sooner (4: the last removals
# queued too long).
_REMOVERS = 8


@dataclass(frozen=True, slots=True)
class DownOptions:
    """The options of ``down``."""
    volumes: bool = False
    rmi: str | None = None  # "local" | "all"
    remove_orphans: bool = False
    timeout: float | None = None
    services: tuple[str, ...] = ()  # `down SERVICE...`: these and their dependents only


def project_dir(project: str) -> str:
    """Per-project files (secrets, configs, resolv.conf copies) the orchestrator writes."""
    return str(state_root() / "projects" / project)


def _nodes_from_labels(containers: Iterable[ContainerRef]) -> list[Node]:
    """The service graph as recorded in the containers' depends_on labels."""
    deps: dict[str, set[str]] = {}
    for c in containers:
        svc = c.labels.get(L.SERVICE, c.name)
        entry = deps.setdefault(svc, set())
        for item in filter(None, c.labels.get(L.DEPENDS_ON, "").split(",")):
            entry.add(item.split(":", 1)[0])
    return [Node(s, tuple(Dependency(d) for d in sorted(ds) if d in deps))
            for s, ds in deps.items()]


def stop_containers(backend: Backend, containers: list[ContainerRef], timeout: float | None,
                    report: Reporter, remove: bool = False, hooks: Hooks | None = None
                    ) -> list[str]:
    """Stop (and optionally remove) containers, dependents first; returns failure reasons.

    ``pre_stop`` hooks in ``hooks`` run first; one that fails stops that container's service
    (docker compose's ``stop``), except when removing (``down`` always cleans up: the failure
    is reported and the container stopped anyway).

    The order holds for stopping: a service is stopped once every dependent is. Removing a
    stopped container (its rootfs, sandbox and veth: more time than the stop itself) is off
    that path; it runs beside the stops of the services it depended on, and every removal has
    ended when this returns."""
    hooks = hooks or {}
    by_service: dict[str, list[ContainerRef]] = {}
    for c in containers:
        by_service.setdefault(c.labels.get(L.SERVICE, c.name), []).append(c)

    state.mark_stopped_by_user(c.id for c in containers if c.running)  # (no restarts now)
    removals: list[tuple[str, Future[None]]] = []
    removers = ThreadPoolExecutor(_REMOVERS, thread_name_prefix="rm") if remove else None

    removed: list[str] = []

    def removal(c: ContainerRef) -> None:
        report(c.name, "Removing")
        backend.remove_container(c.id)
        removed.append(c.id)
        report(c.name, "Removed")

    def act(service: str) -> None:
        for c in by_service.get(service, []):
            if c.running:
                report(c.name, "Stopping")
                _pre_stop(backend, c, service, hooks, remove)
                # when removing, its DNS names go with its sandbox in the removal, which
                # starts at once (withdrawn here first, that write queued behind the
                # removals of the level before and held up the next level's stops), and
                # the next level's stops need not wait for its shim's teardown
                backend.stop_container(c.id, timeout, removing=remove)
                report(c.name, "Stopped")
            elif not remove:  # docker compose's stop reports a stopped container stopped too
                report(c.name, "Stopping")
                report(c.name, "Stopped")
            if removers is not None:
                removals.append((service, removers.submit(removal, c)))

    try:
        runs = Executor(_nodes_from_labels(containers), act, reverse=True).run()
    finally:
        if removers is not None:
            removers.shutdown(wait=True)
            state.forget(removed)  # one write, not one each behind the removals' own
    failures = [r.reason for r in runs.values() if r.outcome is Outcome.FAILED]
    for service, done in removals:
        exc = done.exception()
        if exc is not None:
            log.debug("removing a container of %s failed", service, exc_info=exc)
            failures.append(f"{service} failed: {exc}")
    return failures


def _pre_stop(backend: Backend, c: ContainerRef, service: str, hooks: Hooks,
              tolerate: bool) -> None:
    pre_stop = hooks.get(service, ((), ()))[1]
    try:
        run_hooks(backend, c.id, service, pre_stop)
    except HookError as exc:
        if not tolerate:
            raise
        log.warning("%s: %s (stopping it anyway)", c.name, exc)


def run_down(project: Project | None, name: str, backend: Backend, opts: DownOptions,
             report: Reporter | None = None) -> list[str]:
    """Remove the project's containers, networks, (volumes, images); return failure reasons."""
    with project_lock(name):
        return _run_down(project, name, backend, opts, report or (lambda obj, status: None))


def _run_down(project: Project | None, name: str, backend: Backend, opts: DownOptions,
              report: Reporter) -> list[str]:
    containers = backend.list_containers(name)  # one-off `run` containers go too, like compose
    if project is not None and not opts.remove_orphans:
        known = set(project.services)  # a profile-disabled service's containers stay, and
        disabled = set(project.disabled_services)  # are no orphans (like docker compose)
        containers = [c for c in containers if c.labels.get(L.SERVICE) not in disabled]
        orphans = [c for c in containers if c.labels.get(L.SERVICE) not in known]
        if orphans:
            log.warning("Found orphan containers ([%s]) for this project.",
                        ", ".join(c.name for c in orphans))
        containers = [c for c in containers if c not in orphans]
    if opts.services:
        containers = select(containers, with_dependents(containers, opts.services))
    with backend.removing_together() as together:
        failures = stop_containers(backend, containers, opts.timeout, report, remove=True,
                                   hooks=project_hooks(project))
        together.flush_in_background()  # the veths left, beside the bridges' removal
        remaining = backend.list_containers(name)
        if not remaining:
            client.stop_supervisor(name)
        failures += _remove_networks(project, name, backend, report, busy=bool(remaining))
    if not remaining and backend.release_default_bridge():
        report("Network bridge", "Removed")  # the host-wide default one, once nobody uses it
    if opts.volumes:
        keep = _volumes_in_use(project, backend, remaining) if remaining else set()
        if keep is None:
            log.warning("volumes kept: other containers of project %s remain, and without the "
                        "compose file their named volumes are not known", name)
        else:
            failures += _remove_volumes(project, name, backend, report, keep)
    if opts.rmi and project is not None:
        failures += _remove_images(project, opts.rmi, backend, report)
    if not remaining:
        shutil.rmtree(project_dir(name), ignore_errors=True)
        backend.stop_idle_helpers()
    return failures


def _remove_networks(project: Project | None, name: str, backend: Backend, report: Reporter,
                     busy: bool) -> list[str]:
    if busy:
        return []
    external = {n.name for n in project.networks.values() if n.external} if project else set()
    failures = []
    for net in backend.list_networks(name):
        if net in external:
            continue
        report(f"Network {net}", "Removing")
        try:
            backend.remove_network(net)
            report(f"Network {net}", "Removed")
        except Exception as exc:  # keep going: down must clean up everything it can
            failures.append(f"network {net}: {exc}")
    return failures


def _remove_volumes(project: Project | None, name: str, backend: Backend,
                    report: Reporter, keep: AbstractSet[str] = frozenset()) -> list[str]:
    external = {v.name for v in project.volumes.values() if v.external} if project else set()
    failures = []
    for vol in backend.list_volumes(name):
        if vol in external or vol in keep:
            continue
        report(f"Volume {vol}", "Removing")
        try:
            backend.remove_volume(vol)
            report(f"Volume {vol}", "Removed")
        except Exception as exc:
            failures.append(f"volume {vol}: {exc}")
    return failures


def _remove_images(project: Project, mode: str, backend: Backend, report: Reporter) -> list[str]:
    if mode not in ("local", "all"):
        raise ComposeError(f"invalid --rmi value {mode!r} (local or all)")
    from engine.errors import NotFound

    failures = []
    refs = {svc.image or f"{project.name}-{svc.name}": None for svc in project.services.values()
            if mode == "all" or svc.image is None}  # services may share one image
    for ref in refs:
        report(f"Image {ref}", "Removing")
        try:
            backend.remove_image(ref)
            report(f"Image {ref}", "Removed")
        except NotFound:  # already gone: nothing to do, like compose
            continue
        except Exception as exc:
            failures.append(f"image {ref}: {exc}")
    return failures


def with_dependents(containers: Iterable[ContainerRef], services: Iterable[str]) -> set[str]:
    """``services`` plus the services that depend on them, transitively (from the labels):
    docker compose removes those too when it takes a service down."""
    nodes = _nodes_from_labels(containers)
    chosen = set(services)
    grew = True
    while grew:
        grew = False
        for n in nodes:
            if n.name not in chosen and any(d.service in chosen for d in n.deps):
                chosen.add(n.name)
                grew = True
    return chosen


def _volumes_in_use(project: Project | None, backend: Backend,
                    remaining: list[ContainerRef]) -> set[str] | None:
    """Volumes the containers left after ``down SERVICE...`` still use (named ones from the
    model, anonymous ones from the engine); without the model every volume is kept."""
    if project is None:
        return None
    used: set[str] = set()
    for c in remaining:
        used |= set(backend.anonymous_volumes(c.id).values())
        svc = project.services.get(c.labels.get(L.SERVICE, ""))
        for m in svc.volumes if svc is not None else ():
            if m.type == "volume" and m.source is not None and m.source in project.volumes:
                used.add(project.volumes[m.source].name)
    return used


def select(containers: list[ContainerRef], services: Iterable[str]) -> list[ContainerRef]:
    """Containers of the given services (all when none given)."""
    wanted = set(services)
    if not wanted:
        return containers
    return [c for c in containers if c.labels.get(L.SERVICE) in wanted]

