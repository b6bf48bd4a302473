"""Glue between the project model, the engine's labelled objects and the pure planners."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from compose.config.model import Project, Service
from compose.errors import ComposeError
from compose.orchestrator import labels as L
from compose.orchestrator.backend import ContainerRef
from compose.orchestrator.convergence import DesiredService, ObservedContainer
from compose.orchestrator.executor import Condition, Dependency, Node
from compose.orchestrator.health import resolve_healthcheck


def observed(containers: Iterable[ContainerRef]) -> list[ObservedContainer]:
    """Engine containers → the convergence planner's view (by labels only)."""
    out = []
    for c in containers:
        lab = c.labels
        if L.SERVICE not in lab:
            continue
        out.append(ObservedContainer(
            id=c.id, name=c.name, service=lab[L.SERVICE],
            number=int(lab.get(L.NUMBER, "1") or 1), config_hash=lab.get(L.CONFIG_HASH, ""),
            running=c.running, image_id=lab.get(L.IMAGE) or None,
            oneoff=lab.get(L.ONEOFF, "False") == "True", state=c.state))
    return out


def desired(project: Project, names: Iterable[str], image_ids: Mapping[str, str],
            scale: Mapping[str, int] | None = None) -> list[DesiredService]:
    """The planner's view of the services ``names``."""
    scale = scale or {}
    out = []
    for name in names:
        svc = project.services[name]
        refs = []
        for mode in (svc.network_mode, svc.ipc):
            if mode and mode.startswith("service:"):
                refs.append(mode.split(":", 1)[1])
        refs += [r.split(":", 1)[0] for r in svc.volumes_from if not r.startswith("container:")]
        out.append(DesiredService(
            name=name, config_hash=L.service_hash(project, svc),
            scale=scale.get(name, svc.replicas()), image_id=image_ids.get(name),
            restart_on=tuple(d for d, spec in svc.depends_on.items() if spec.restart),
            references=tuple(refs)))
    return out


def container_labels(project: Project, svc: Service, number: int, image_id: str,
                     oneoff: bool = False) -> dict[str, str]:
    """The compose labels of one container."""
    return {
        L.PROJECT: project.name,
        L.SERVICE: svc.name,
        L.NUMBER: str(number),
        L.ONEOFF: "True" if oneoff else "False",
        L.CONFIG_HASH: L.service_hash(project, svc),
        L.WORKING_DIR: project.working_dir,
        L.CONFIG_FILES: ",".join(project.compose_files),
        L.VERSION: L.COMPOSE_VERSION,
        L.DEPENDS_ON: L.depends_on_label(svc.depends_on),
        L.IMAGE: image_id,
    }


def nodes(project: Project, names: Iterable[str]) -> list[Node]:
    """Executor nodes for ``names``; dependencies outside ``names`` are left out (--no-deps)."""
    wanted = set(names)
    out = []
    for name in names:
        svc = project.services[name]
        deps = []
        for dep_name in svc.dependencies():
            if dep_name not in wanted:
                continue
            spec = svc.depends_on.get(dep_name)
            if spec is None:
                deps.append(Dependency(dep_name))
            else:
                deps.append(Dependency(dep_name, Condition(spec.condition), spec.required,
                                       spec.restart))
        out.append(Node(name, tuple(deps)))
    return out


def with_dependencies(project: Project, names: Iterable[str]) -> list[str]:
    """``names`` plus everything they depend on (transitively), in project order."""
    seen: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in project.services:
            raise ComposeError(f"no such service: {name}")
        seen.add(name)
        stack.extend(d for d in project.services[name].dependencies() if d in project.services)
    return [n for n in project.services if n in seen]


def without_healthcheck(project: Project, names: Iterable[str],
                        image_health: Mapping[str, object]) -> set[str]:
    """The services among ``names`` that ``service_healthy`` dependents wait on but that have
    no healthcheck (neither their own nor their image's). Like docker compose, such a
    dependency fails once its container runs ("has no healthcheck configured"); an optional
    one (``required: false``) only warns."""
    out = set()
    for name in names:
        for dep, spec in project.services[name].depends_on.items():
            if spec.condition != Condition.HEALTHY.value or dep not in project.services:
                continue
            if resolve_healthcheck(project.services[dep].healthcheck,
                                   image_health.get(dep)) is None:
                out.add(dep)
    return out


def check_container_names(project: Project, names: Iterable[str]) -> None:
    """Two of the services ``names`` may not set the same ``container_name`` (docker compose
    refuses it before creating anything)."""
    seen: dict[str, str] = {}
    for name in names:
        fixed = project.services[name].container_name
        if not fixed:
            continue
        if fixed in seen:
            raise ComposeError(f'services.{name}: container name "{fixed}" is already in use '
                               f"by service {seen[fixed]}")
        seen[fixed] = name
