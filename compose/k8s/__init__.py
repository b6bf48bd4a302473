"""From one machine to a cluster: a loaded compose project as plain Kubernetes manifests
(``pycompose convert --to kubernetes``), applied and removed with the official client
(``pycompose deploy`` / ``undeploy``).

The mapping keeps what makes a compose stack work: discovery by name (a Service per compose
service and per alias), health-gated start (``depends_on`` conditions become init containers
that wait for the dependency's workload to be ready or its Job to complete), network isolation
(NetworkPolicies: a pod accepts traffic only from pods sharing a network with it). Whatever has
no Kubernetes form is an error naming the service and key -- or, with ``allow_lossy``, one
warning per key -- never dropped silently. Pure functions over the frozen model: no cluster, no
engine.

Public API: :func:`convert_project` → list of manifests, :class:`ConvertError`,
:class:`ConvertOptions`.
"""
from __future__ import annotations

from compose.k8s.convert import ConvertError, ConvertOptions, convert_project

__all__ = ["ConvertError", "ConvertOptions", "convert_project"]
