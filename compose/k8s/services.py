"""Discovery by name: a Service per compose service, named after it, and one per network
alias; a service with no ports gets a headless Service (its name still resolves to its pods)."""
from __future__ import annotations

from typing import Any

from compose.config.model import Service
from compose.k8s.context import Context
from compose.k8s.names import is_dns_label, metadata, selector, to_dns_label
from compose.k8s.pods import container_ports

TYPES = ("ClusterIP", "NodePort", "LoadBalancer")


def dns_name(ctx: Context, where: str, key: str, name: str) -> str:
    """``name`` as a Service name; a name that would change breaks discovery: reported."""
    if is_dns_label(name):
        return name
    fixed = to_dns_label(name)
    ctx.lossy(where, key, f"{name!r} is not a valid Kubernetes Service name: containers "
              f"would have to use {fixed!r} instead")
    return fixed


def service_ports(svc: Service) -> list[dict[str, Any]]:
    """Service ports: a published port keeps its host number as the Service port."""
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for p in svc.ports:
        port = int(p.published.split("-")[0]) if p.published else p.target
        if (port, p.protocol) in seen:
            continue
        seen.add((port, p.protocol))
        out.append({"name": f"{p.protocol}-{port}", "port": port, "targetPort": p.target,
                    "protocol": p.protocol.upper()})
    for cp in container_ports(svc):
        key = (cp["containerPort"], cp["protocol"].lower())
        if key not in seen and not any(o["targetPort"] == key[0] for o in out):
            seen.add(key)
            out.append({"name": f"{key[1]}-{key[0]}", "port": key[0], "targetPort": key[0],
                        "protocol": cp["protocol"]})
    return out


def services_for(ctx: Context, svc: Service) -> list[dict[str, Any]]:
    """The Service named after ``svc`` and one per alias on its networks."""
    if svc.network_mode == "host":
        return []
    p = ctx.project.name
    where = ctx.where(svc)
    names = [dns_name(ctx, where, "name", svc.name)]
    if svc.container_name:  # other containers reach it by that name too
        n = dns_name(ctx, where, "container_name", svc.container_name)
        if n not in names:
            names.append(n)
    for key, sn in svc.networks.items():
        for alias in (sn.aliases if sn else ()):
            n = dns_name(ctx, where, f"networks.{key}.aliases", alias)
            if n not in names:
                names.append(n)
    ports = service_ports(svc)
    kind = ctx.hint(svc, "service_type", "ClusterIP")
    if kind not in TYPES:
        ctx.lossy(where, "x-kubernetes.service_type", f"{kind!r}: expected one of {TYPES}")
        kind = "ClusterIP"
    out = []
    for name in names:
        spec: dict[str, Any] = {"selector": selector(p, svc.name)}
        if ports:
            spec["ports"] = ports
            spec["type"] = kind
        else:
            spec["clusterIP"] = "None"
        out.append({"apiVersion": "v1", "kind": "Service",
                    "metadata": metadata(name, p, selector(p, svc.name)), "spec": spec})
    return out
