"""``deploy`` / ``undeploy`` with the official ``kubernetes`` client: server-side apply
(field manager ``pycompose``) of the converted objects, then a wait for each workload in
dependency order (what ``up`` does locally); undeploy removes exactly the objects that carry
this project's labels and ``app.kubernetes.io/managed-by=pycompose``."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from compose.errors import ComposeError
from compose.k8s.names import MANAGED_BY, MANAGER, PROJECT

FIELD_MANAGER = "pycompose"
# kind → (API group path, plural); everything convert makes, in apply order
KINDS = {
    "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims"),
    "Service": ("/api/v1", "services"),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "Job": ("/apis/batch/v1", "jobs"),
}
WORKLOADS = ("StatefulSet", "Deployment", "Job")
Report = Callable[[str, str], None]


class DeployError(ComposeError):
    """The cluster refused an object, or a workload did not become ready in time."""


@dataclass
class Cluster:
    """A thin REST layer over the official client's ApiClient (auth, TLS, kubeconfig)."""

    api: Any
    namespace: str

    @classmethod
    def connect(cls, kubeconfig: str | None, namespace: str | None,
                context: str | None = None) -> Cluster:
        try:
            from kubernetes import config as kconfig
        except ImportError:
            raise DeployError("deploy needs the official Kubernetes client: pip install "
                              "'pycompose[kubernetes]'") from None
        try:
            api = kconfig.new_client_from_config(config_file=kubeconfig, context=context)
            _, active = kconfig.list_kube_config_contexts(config_file=kubeconfig)
        except Exception as exc:  # the client raises several types for a bad kubeconfig
            raise DeployError(f"kubeconfig {kubeconfig or '~/.kube/config'}: {exc}") from None
        ns = namespace or (active or {}).get("context", {}).get("namespace") or "default"
        return cls(api, ns)

    def request(self, method: str, path: str, body: Any = None, query: list[Any] | None = None,
                content_type: str = "application/json") -> tuple[int, Any]:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        serialized = self.api.param_serialize(method, path, query_params=query or [],
                                              header_params=headers, body=body,
                                              auth_settings=["BearerToken"])
        from kubernetes.client.exceptions import ApiException

        try:
            resp = self.api.call_api(*serialized)
            data = resp.read()
            return resp.status, json.loads(data) if data else None
        except ApiException as exc:
            try:
                detail = json.loads(exc.body or "{}").get("message") or exc.reason
            except ValueError:
                detail = exc.reason
            return int(exc.status or 0), {"message": detail}

    def path(self, kind: str, name: str | None = None) -> str:
        group, plural = KINDS[kind]
        base = f"{group}/namespaces/{self.namespace}/{plural}"
        return f"{base}/{name}" if name else base


def apply_objects(cluster: Cluster, objects: list[dict[str, Any]], report: Report) -> None:
    """Server-side apply every object (``force``: pycompose owns the fields it sets)."""
    for obj in objects:
        name = obj["metadata"]["name"]
        body = {**obj, "metadata": {**obj["metadata"], "namespace": cluster.namespace}}
        status, data = cluster.request(
            "PATCH", cluster.path(obj["kind"], name), body=body,
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            content_type="application/apply-patch+yaml")
        if status >= 300:
            raise DeployError(f"{obj['kind']} {name}: the cluster refused it ({status}): "
                              f"{(data or {}).get('message')}")
        report(f"{obj['kind']} {name}", "Applied")


def ready(kind: str, obj: dict[str, Any]) -> bool | None:
    """True when the workload is ready (a Job: complete), None while not, False if failed."""
    status = obj.get("status") or {}
    if kind == "Job":
        if status.get("succeeded"):
            return True
        return False if status.get("failed") else None
    want = (obj.get("spec") or {}).get("replicas", 1)
    return True if (status.get("readyReplicas") or 0) >= want else None


def wait_ready(cluster: Cluster, workloads: list[tuple[str, str]], report: Report,
               timeout: float, interval: float = 1.0) -> None:
    """Wait for each (kind, name) in order (dependencies first), like ``up --wait``."""
    deadline = time.monotonic() + timeout
    for kind, name in workloads:
        report(f"{kind} {name}", "Waiting")
        while True:
            status, obj = cluster.request("GET", cluster.path(kind, name))
            state = ready(kind, obj or {}) if status == 200 else None
            if state:
                report(f"{kind} {name}", "Completed" if kind == "Job" else "Ready")
                break
            if state is False:
                raise DeployError(f"Job {name} failed")
            if time.monotonic() > deadline:
                raise DeployError(f"{kind} {name} was not ready within {timeout:g}s")
            time.sleep(interval)


def managed_objects(cluster: Cluster, project: str) -> Iterator[tuple[str, str]]:
    """(kind, name) of every object of ``project`` that pycompose applied."""
    selector = f"{MANAGED_BY}={MANAGER},{PROJECT}={project}"
    for kind in KINDS:
        status, data = cluster.request("GET", cluster.path(kind),
                                       query=[("labelSelector", selector)])
        if status == 404:
            continue
        if status >= 300:
            raise DeployError(f"listing {kind}: {(data or {}).get('message')}")
        for item in (data or {}).get("items") or []:
            yield kind, item["metadata"]["name"]


def delete_objects(cluster: Cluster, project: str, report: Report) -> int:
    """Delete the project's objects, workloads first (their pods go with them)."""
    found = list(managed_objects(cluster, project))
    found.sort(key=lambda kn: -list(KINDS).index(kn[0]))
    for kind, name in found:
        status, data = cluster.request("DELETE", cluster.path(kind, name),
                                       body={"propagationPolicy": "Background"})
        if status >= 300 and status != 404:
            raise DeployError(f"{kind} {name}: {(data or {}).get('message')}")
        report(f"{kind} {name}", "Deleted")
    return len(found)
