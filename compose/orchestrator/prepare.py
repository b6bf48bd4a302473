"""What ``up`` (and ``run``) make ready before containers: images per distinct name, networks,
named volumes."""
from __future__ import annotations

import logging
from collections.abc import Callable

from compose.config.model import Project, Service
from compose.orchestrator.backend import Backend
from compose.orchestrator.imagespec import image_name
from compose.orchestrator.labels import volume_hash

log = logging.getLogger(__name__)

Reporter = Callable[[str, str], None]


def image_groups(project: Project, names: list[str]) -> dict[str, list[str]]:
    """Services by the image they run (``image:``, else ``<project>-<service>``)."""
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(image_name(project, project.services[n]), []).append(n)
    return groups


def context_services(service: Service) -> list[str]:
    """Services whose images this one's build uses (``additional_contexts: {x: service:NAME}``)."""
    if service.build is None:
        return []
    return [v.split(":", 1)[1] for v in service.build.additional_contexts.values()
            if v.startswith("service:")]


def with_build_inputs(project: Project, names: list[str]) -> list[str]:
    """``names`` plus, first, the services whose images their builds use (recursively):
    docker compose builds those first."""
    out: list[str] = []

    def visit(name: str) -> None:
        if name in out:
            return
        for dep in context_services(project.services[name]):
            visit(dep)
        out.append(name)

    for n in names:
        visit(n)
    return out


def image_waves(project: Project, groups: dict[str, list[str]]) -> list[list[list[str]]]:
    """Image groups in waves: a group's build inputs are ready in an earlier wave. So are
    the images its building services depend on (``depends_on``) when those are built too:
    docker compose builds in dependency order, so ``FROM`` may name such an image."""
    owner = {n: img for img, group in groups.items() for n in group}
    built = {n for group in groups.values() for n in group
             if project.services[n].build is not None}

    def inputs(name: str) -> set[str]:
        svc = project.services[name]
        found = set(context_services(svc))
        if name in built:
            found |= {d for d in svc.depends_on if d in built}
        return found

    needs = {img: {owner[d] for n in group for d in inputs(n)
                   if d in owner and owner[d] != img} for img, group in groups.items()}
    waves: list[list[list[str]]] = []
    done: set[str] = set()
    while len(done) < len(groups):
        ready = [img for img in groups if img not in done and needs[img] <= done]
        if not ready:  # a cycle: the config checks reject those; keep going rather than hang
            ready = [img for img in groups if img not in done]
        waves.append([groups[img] for img in ready])
        done.update(ready)
    return waves


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


def diverged_volumes(project: Project, backend: Backend, names: list[str]) -> list[str]:
    """Keys of the named volumes the services ``names`` use whose engine volume was created
    from another definition (its recorded config hash differs; an unrecorded one is left
    alone, like docker compose)."""
    used = {m.source for n in names for m in project.services[n].volumes
            if m.type == "volume" and m.source}
    out = []
    for key, vol in project.volumes.items():
        if key not in used or vol.external:
            continue
        recorded = backend.volume_config_hash(vol.name)
        if recorded and recorded != volume_hash(vol):
            out.append(key)
    return out


def volume_users(project: Project, key: str) -> set[str]:
    """The services that mount the named volume ``key``."""
    return {s.name for s in project.services.values()
            if any(m.type == "volume" and m.source == key for m in s.volumes)}
