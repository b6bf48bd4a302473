"""What every mapping step shares: the project, the options, and how a key that has no
Kubernetes form is reported (an error, or with ``allow_lossy`` one warning per key)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compose.config.model import Project, Service
from compose.errors import ComposeError

DEFAULT_VOLUME_SIZE = "1Gi"
WAIT_IMAGE = "registry.k8s.io/kubectl:v1.33.0"  # runs `kubectl wait` in the init containers


class ConvertError(ComposeError):
    """A compose construct that Kubernetes cannot express (names the service and key)."""


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """How to convert. ``images`` maps a service to the image reference to use (by digest
    after ``--push``); ``namespace`` is written into every namespaced object when set."""

    allow_lossy: bool = False
    namespace: str | None = None
    images: dict[str, str] = field(default_factory=dict)
    wait_image: str = WAIT_IMAGE


@dataclass(slots=True)
class Context:
    """What one conversion to Kubernetes manifests works on, and the warnings it gathers."""
    project: Project
    options: ConvertOptions
    warnings: list[str] = field(default_factory=list)

    def lossy(self, where: str, key: str, why: str) -> None:
        """``where``'s ``key`` cannot be expressed: raise, or warn once when lossy is allowed."""
        text = f"{where}: {key}: {why}"
        if not self.options.allow_lossy:
            raise ConvertError(text + " (use --allow-lossy to convert without it)")
        if text not in self.warnings:
            self.warnings.append(text)

    def hint(self, svc: Service, name: str, default: Any = None) -> Any:
        """A value from the service's ``x-kubernetes`` extension (``x-kubernetes: {name: v}``)."""
        ext = svc.raw.get("x-kubernetes") or {}
        return ext.get(name, default) if isinstance(ext, dict) else default

    def where(self, svc: Service) -> str:
        return f'service "{svc.name}"'
