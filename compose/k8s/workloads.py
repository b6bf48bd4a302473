"""Controllers: a service becomes a Deployment, a StatefulSet (it has a named volume) or a Job
(a one-shot ``restart: "no"`` service others wait on to complete); ``depends_on`` conditions
become init containers that wait, with ``kubectl wait`` under a namespaced ServiceAccount, for
the dependency to be ready or its Job complete."""
from __future__ import annotations

from typing import Any

from compose.config.model import Service
from compose.k8s.context import Context
from compose.k8s.names import metadata, selector, to_dns_label

WAITER = "pycompose-wait"


def kind_of(ctx: Context, svc: Service) -> str:
    """Deployment, StatefulSet or Job."""
    awaited = any(d.condition == "service_completed_successfully"
                  for other in ctx.project.services.values()
                  for name, d in other.depends_on.items() if name == svc.name)
    if awaited and svc.restart in (None, "no"):
        return "Job"
    if any(m.type == "volume" and m.source for m in svc.volumes):
        return "StatefulSet"
    return "Deployment"


def object_name(svc: Service) -> str:
    return to_dns_label(svc.name)


def wait_command(ctx: Context, dep: Service, condition: str) -> list[str]:
    """What an init container runs to hold a pod until ``dep`` meets ``condition``."""
    kind = kind_of(ctx, dep)
    target = f"{kind.lower()}/{object_name(dep)}"
    if condition == "service_completed_successfully":
        if kind != "Job":
            ctx.lossy(f'service "{dep.name}"', "restart", "a service others wait on to "
                      "complete must be a one-shot (restart: \"no\") to become a Job")
        return ["kubectl", "wait", "--for=condition=complete", target, "--timeout=-1s"]
    replicas = dep.replicas()
    return ["kubectl", "wait", f"--for=jsonpath={{.status.readyReplicas}}={replicas}", target,
            "--timeout=-1s"]


def init_waits(ctx: Context, svc: Service) -> list[dict[str, Any]]:
    """One init container per ``depends_on`` entry, in the order compose lists them."""
    out = []
    for name, dep in svc.depends_on.items():
        other = ctx.project.services.get(name)
        if other is None:  # required: false and not enabled
            continue
        if dep.restart:
            ctx.lossy(ctx.where(svc), f"depends_on.{name}.restart",
                      "pods are not restarted when a dependency is")
        out.append({"name": f"wait-{object_name(other)}"[:63], "image": ctx.options.wait_image,
                    "command": wait_command(ctx, other, dep.condition)})
    return out


def rbac(ctx: Context) -> list[dict[str, Any]]:
    """The ServiceAccount the waiting init containers run as, allowed to read workloads."""
    p = ctx.project.name
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata(WAITER, p)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": metadata(WAITER, p),
         "rules": [{"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"],
                    "verbs": ["get", "list", "watch"]},
                   {"apiGroups": ["batch"], "resources": ["jobs"],
                    "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": metadata(WAITER, p),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": WAITER},
         "subjects": [{"kind": "ServiceAccount", "name": WAITER}]},
    ]


def restart_policy(ctx: Context, svc: Service, kind: str) -> str:
    """The pod restart policy; compose policies a controller cannot keep are reported."""
    if kind == "Job":
        return "Never"
    if svc.restart in ("no", "on-failure") or (svc.restart or "").startswith("on-failure:"):
        ctx.lossy(ctx.where(svc), "restart", f"{svc.restart!r}: a {kind}'s pods are always "
                  "restarted (only a service others wait on to complete becomes a Job)")
    return "Always"


def controller(ctx: Context, svc: Service, kind: str, labels: dict[str, str],
               pod_spec: dict[str, Any]) -> dict[str, Any]:
    """The Deployment, StatefulSet or Job around the pod template."""
    p = ctx.project.name
    annotations = {**dict(svc.annotations), **{k: str(v) for k, v in svc.labels.items()}}
    template: dict[str, Any] = {"metadata": {"labels": labels}, "spec": pod_spec}
    if annotations:
        template["metadata"]["annotations"] = annotations
    deploy_labels = dict(svc.deploy.labels) if svc.deploy else {}
    meta = metadata(object_name(svc), p, selector(p, svc.name), deploy_labels or None)
    if kind == "Job":
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"backoffLimit": 0, "template": template}}
    spec: dict[str, Any] = {"replicas": svc.replicas(),
                            "selector": {"matchLabels": selector(p, svc.name)},
                            "template": template}
    if kind == "StatefulSet":
        spec["serviceName"] = object_name(svc)
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec}
