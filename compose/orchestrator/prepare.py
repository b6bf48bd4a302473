"""What ``up`` (and ``run``) make ready before containers: images per distinct name, networks,
named volumes."""
from __future__ import annotations

from collections.abc import Callable

from compose.config.model import Project, Service
from compose.orchestrator.backend import Backend
from compose.orchestrator.imagespec import image_name

Reporter = Callable[[str, str], None]


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
