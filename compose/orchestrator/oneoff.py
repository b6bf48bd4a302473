"""One-off containers of a service (``run``): the service with the run's overrides, created
with the one-off labels, and removed again.

Shared by the CLI's ``run`` and the in-process API (:mod:`compose.api`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from compose.config.model import PortConfig, Project, Service
from compose.orchestrator import client, state
from compose.orchestrator import project as proj
from compose.orchestrator.backend import Backend, CreateRequest, Progress
from compose.orchestrator.health import resolve_healthcheck
from compose.orchestrator.lock import project_lock
from compose.orchestrator.prepare import prepare_networks_and_volumes
from compose.orchestrator.restart import RestartPolicy
from compose.orchestrator.translate import check_supported


def one_off_service(svc: Service, *, entrypoint: str | None, user: str | None,
                    workdir: str | None, env: Sequence[str], ports: Sequence[str],
                    service_ports: bool, lookup: Mapping[str, str] | None = None) -> Service:
    """The service as ``run`` runs it: overrides applied, ports only on request, no restart.
    A ``-e KEY`` without a value takes KEY from ``lookup`` (the project environment: the
    shell, then the env files), and is dropped when that has none (like docker compose)."""
    environment = dict(svc.environment)
    for item in env:
        key, sep, val = item.partition("=")
        if sep:
            environment[key] = val
        elif lookup is not None and key in lookup:
            environment[key] = lookup[key]
    published = list(svc.ports) if service_ports else []
    for p in ports:
        host, _, target = p.rpartition(":")
        published.append(PortConfig(int(target.split("/")[0]), host or None))
    return dataclasses.replace(
        svc, entrypoint=(entrypoint,) if entrypoint else svc.entrypoint,
        user=user if user is not None else svc.user,
        working_dir=workdir if workdir is not None else svc.working_dir,
        environment=environment, ports=tuple(published), restart=None)


def create_one_off(project: Project, be: Backend, svc: Service, *, name: str,
                   command: Sequence[str] | None, use_aliases: bool,
                   progress: Progress, pull: str = "missing", build: bool = False) -> str:
    """Create (not start) the one-off container ``name`` of ``svc``; its id. The image
    (``pull`` policy, built when ``build``), the service's networks and volumes are made
    ready first, and the supervisor runs."""
    check_supported(svc)
    image = be.ensure_image(project, svc, pull=pull, build=build, progress=progress)
    with project_lock(project.name):  # like compose: the service's networks and volumes
        prepare_networks_and_volumes(project, be, [svc.name], progress)
    labels = proj.container_labels(project, svc, 1, image.id, oneoff=True)
    cid = be.create_container(CreateRequest(project, svc, 1, name, labels, image, oneoff=True,
                                            command=tuple(command) if command else None,
                                            use_aliases=use_aliases))
    state.save(state.Supervised(cid, project.name, svc.name, name,
                                resolve_healthcheck(svc.healthcheck, image.config.healthcheck),
                                RestartPolicy()))
    client.ensure_supervisor(project.name)
    return cid


def remove_one_off(be: Backend, cid: str) -> None:
    """Stop and remove a one-off container (``run --rm``)."""
    be.stop_container(cid, None)
    be.remove_container(cid)
    state.delete(cid)
