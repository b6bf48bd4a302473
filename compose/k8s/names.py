"""Kubernetes object names and the labels every converted object carries."""
from __future__ import annotations

import re
from typing import Any

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "pycompose"
PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NETWORK_PREFIX = "network.pycompose.io/"
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def is_dns_label(name: str) -> bool:
    """A valid RFC 1123 label (what Service and most object names must be)."""
    return len(name) <= 63 and bool(_DNS1123.match(name))


def to_dns_label(name: str) -> str:
    """The nearest valid label: lower case, other characters to '-', trimmed to 63."""
    out = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:63].strip("-")
    return out or "x"


def base_labels(project: str) -> dict[str, str]:
    """Labels of every object: who manages it and which project it belongs to."""
    return {MANAGED_BY: MANAGER, PROJECT: project}


def selector(project: str, service: str) -> dict[str, str]:
    """The labels that select one service's pods."""
    return {PROJECT: project, SERVICE: service}


def network_label(key: str) -> str:
    """The pod label that says a pod is on compose network ``key``."""
    return NETWORK_PREFIX + to_dns_label(key)


def metadata(name: str, project: str, extra: dict[str, str] | None = None,
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """An object's metadata block."""
    meta: dict[str, Any] = {"name": name, "labels": {**base_labels(project), **(extra or {})}}
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta
