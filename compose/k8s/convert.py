"""The conversion as a table of contents: check every key, then per service its storage,
pod, controller and Services; then claims, configs/secrets, RBAC for the waits and the
network policies. Objects come out in apply order (what others refer to first)."""
from __future__ import annotations

from typing import Any

from compose.config.model import Project, Service
from compose.k8s import netpol, pods, services, storage, workloads
from compose.k8s.context import Context, ConvertError, ConvertOptions
from compose.k8s.keys import unmapped_keys
from compose.orchestrator.imagespec import image_name

__all__ = ["ConvertError", "ConvertOptions", "convert_project"]
KIND_ORDER = ("ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret",
              "PersistentVolumeClaim", "Service", "NetworkPolicy", "StatefulSet", "Deployment",
              "Job")


def convert_project(project: Project, options: ConvertOptions | None = None
                    ) -> tuple[list[dict[str, Any]], list[str]]:
    """(manifests in apply order, warnings). Raises ConvertError naming the service and key
    of the first construct Kubernetes cannot express, unless ``allow_lossy``."""
    ctx = Context(project, options or ConvertOptions())
    objects: list[dict[str, Any]] = []
    volume_users: dict[str, int] = {}
    file_refs: set[tuple[str, str]] = set()
    for svc in project.services.values():
        objects += _service(ctx, svc)
        for m in svc.volumes:
            if m.type == "volume" and m.source:
                volume_users[m.source] = volume_users.get(m.source, 0) + svc.replicas()
        file_refs |= {("configs", r.source) for r in svc.configs}
        file_refs |= {("secrets", r.source) for r in svc.secrets}
    objects += storage.claims(ctx, volume_users)
    objects += storage.file_objects(ctx, file_refs)
    if any(svc.depends_on for svc in project.services.values()):
        objects += workloads.rbac(ctx)
    objects += netpol.policies(ctx)
    _check_unique(objects)
    if ctx.options.namespace:
        for obj in objects:
            obj["metadata"]["namespace"] = ctx.options.namespace
    objects.sort(key=lambda o: KIND_ORDER.index(o["kind"]))
    return objects, ctx.warnings


def _service(ctx: Context, svc: Service) -> list[dict[str, Any]]:
    for key, why in unmapped_keys(svc):
        ctx.lossy(ctx.where(svc), key, why)
    volumes, mounts = storage.pod_storage(ctx, svc)
    image = ctx.options.images.get(svc.name) or svc.image or image_name(ctx.project, svc)
    main = pods.container(ctx, svc, image, mounts)
    kind = workloads.kind_of(ctx, svc)
    init = workloads.init_waits(ctx, svc)
    spec = pods.pod_spec(ctx, svc, main, volumes, init,
                         workloads.restart_policy(ctx, svc, kind))
    if init:
        spec["serviceAccountName"] = workloads.WAITER
    labels = pods.pod_labels(ctx, svc)
    return [workloads.controller(ctx, svc, kind, labels, spec),
            *services.services_for(ctx, svc)]


def _check_unique(objects: list[dict[str, Any]]) -> None:
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for obj in objects:
        key = (obj["kind"], obj["metadata"]["name"])
        if key in seen:
            raise ConvertError(f"two compose objects become the same {key[0]} "
                               f"{key[1]!r} (names that differ only in case or in characters "
                               "Kubernetes does not allow, or an alias equal to a service name)")
        seen[key] = obj
