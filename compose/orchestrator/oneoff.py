"""One-off containers of a service (``run``): the service with the run's overrides, created
with the one-off labels, and removed again.

Shared by the CLI's ``run`` and the in-process API (:mod:`compose.api`).
"""
from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Mapping, Sequence

from compose.config.model import (
    BindOptions,
    PortConfig,
    Project,
    Service,
    VolumeMount,
    VolumeOptions,
)
from compose.orchestrator import client, state
from compose.orchestrator import project as proj
from compose.orchestrator.backend import Backend, CreateRequest, Progress
from compose.orchestrator.health import resolve_healthcheck
from compose.orchestrator.lock import project_lock
from compose.orchestrator.prepare import prepare_networks_and_volumes, with_build_inputs
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


def run_volumes(specs: Sequence[str], project: Project, cwd: str) -> tuple[VolumeMount, ...]:
    """``run -v SRC:DST[:MODE]`` mounts: a host path (relative to ``cwd``) or a volume the
    compose file declares, or an anonymous volume for a bare target."""
    from compose.config.syntax import parse_volume_short, resolve_host_path
    from compose.errors import ComposeError

    out = []
    for spec in specs:
        try:
            v = parse_volume_short(spec)
        except ValueError as exc:
            raise ComposeError(f"run -v: {exc}") from None
        source = v.get("source")
        if v["type"] == "volume" and source and source not in project.volumes:
            raise ComposeError(f"run -v {spec}: volume {source!r} is not declared in the "
                               "compose file's top-level volumes")
        bind = v.get("bind")
        out.append(VolumeMount(
            type=v["type"], target=posixpath.normpath(v["target"]),
            source=resolve_host_path(str(source), cwd) if v["type"] == "bind" else source or None,
            read_only=bool(v.get("read_only")),
            bind=BindOptions(bind.get("propagation"), True, bind.get("selinux"))
            if bind else None,
            volume=VolumeOptions(bool(v["volume"].get("nocopy"))) if "volume" in v else None))
    return tuple(out)


def with_volumes(svc: Service, extra: Sequence[VolumeMount]) -> Service:
    """The service with ``extra`` mounts, replacing any of its own on the same target."""
    targets = {m.target for m in extra}
    return dataclasses.replace(
        svc, volumes=tuple(m for m in svc.volumes if m.target not in targets) + tuple(extra))


def create_one_off(project: Project, be: Backend, svc: Service, *, name: str,
                   command: Sequence[str] | None, use_aliases: bool,
                   progress: Progress, pull: str = "missing", build: bool = False,
                   auto_remove: bool = False) -> str:
    """Create (not start) the one-off container ``name`` of ``svc``; its id. The image
    (``pull`` policy, built when ``build``), the service's networks and volumes are made
    ready first, and the supervisor runs; with ``auto_remove`` (``run --rm -d``) it removes
    the container once it exits."""
    check_supported(svc)
    # the images its build uses (additional_contexts: service:NAME) first, as up does
    for dep in with_build_inputs(project, [svc.name])[:-1]:
        source = project.services[dep]
        be.ensure_image(project, source, pull=source.pull_policy or "missing",
                        build=build and source.build is not None, progress=progress)
    image = be.ensure_image(project, svc, pull=pull, build=build, progress=progress)
    with project_lock(project.name):  # like compose: the service's networks and volumes
        # (those of the one-off service: ``run -v`` may name a volume the service does not)
        own = dataclasses.replace(project, services={**project.services, svc.name: svc})
        prepare_networks_and_volumes(own, be, [svc.name], progress)
    labels = proj.container_labels(project, svc, 1, image.id, oneoff=True)
    cid = be.create_container(CreateRequest(project, svc, 1, name, labels, image, oneoff=True,
                                            command=tuple(command) if command else None,
                                            use_aliases=use_aliases))
    state.save(state.Supervised(cid, project.name, svc.name, name,
                                resolve_healthcheck(svc.healthcheck, image.config.healthcheck),
                                RestartPolicy(auto_remove=auto_remove)))
    client.ensure_supervisor(project.name)
    return cid


def remove_one_off(be: Backend, cid: str) -> None:
    """Stop and remove a one-off container (``run --rm``)."""
    be.stop_container(cid, None)
    be.remove_container(cid)
    state.delete(cid)
