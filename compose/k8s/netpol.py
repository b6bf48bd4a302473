"""Compose's network isolation as NetworkPolicies: a pod accepts traffic only from pods that
share one of its compose networks (and, on published ports, from anywhere, as a published
port is reachable from anywhere under compose); a pod all of whose networks are ``internal``
sends only to pods sharing a network, to DNS, and to the API server (for the init containers
that wait on dependencies)."""
from __future__ import annotations

from typing import Any

from compose.config.model import Service
from compose.k8s.context import Context
from compose.k8s.names import metadata, network_label, selector, to_dns_label

DNS_AND_API = [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"},
               {"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]


def used_networks(ctx: Context) -> list[str]:
    """Compose network keys that at least one converted service is on."""
    keys: list[str] = []
    for svc in ctx.project.services.values():
        if svc.network_mode is None:
            for key in (list(svc.networks) or ["default"]):
                if key not in keys:
                    keys.append(key)
    return keys


def policies(ctx: Context) -> list[dict[str, Any]]:
    """One policy per network (ingress from members; egress kept or, internal, members only)
    and one per service with published ports."""
    p = ctx.project.name
    out = []
    for key in used_networks(ctx):
        net = ctx.project.networks[key]
        members = {"podSelector": {"matchLabels": {network_label(key): "true"}}}
        if net.external:
            ctx.lossy(f'network "{key}"', "external", "pods of other projects are not on it")
        egress: list[dict[str, Any]] = [{"to": [members]}, {"ports": DNS_AND_API}] \
            if net.internal else [{}]
        out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": metadata(f"net-{to_dns_label(key)}"[:63], p),
                    "spec": {"podSelector": members["podSelector"],
                             "policyTypes": ["Ingress", "Egress"],
                             "ingress": [{"from": [members]}], "egress": egress}})
    for svc in ctx.project.services.values():
        published = published_ports(svc)
        if published and svc.network_mode is None:
            out.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                        "metadata": metadata(f"published-{to_dns_label(svc.name)}"[:63], p),
                        "spec": {"podSelector": {"matchLabels": selector(p, svc.name)},
                                 "policyTypes": ["Ingress"],
                                 "ingress": [{"ports": published}]}})
    return out


def published_ports(svc: Service) -> list[dict[str, Any]]:
    """The container ports compose publishes (every ``ports:`` entry: one without a host port
    is published on an ephemeral one), reachable from anywhere."""
    seen: list[dict[str, Any]] = []
    for port in svc.ports:
        entry = {"port": port.target, "protocol": port.protocol.upper()}
        if entry not in seen:
            seen.append(entry)
    return seen
