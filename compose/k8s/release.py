"""``convert --push`` / ``deploy --push``: build the services that have ``build:``, push every
image to its registry, and name it by digest so a cluster runs exactly what was built."""
from __future__ import annotations

from compose.config.model import Project
from compose.errors import ComposeError
from compose.orchestrator.imagespec import build_spec, image_name


def build_and_push(project: Project) -> dict[str, str]:
    """service → ``repo@sha256:...`` for every service whose image was built or pushed."""
    from engine import images
    from engine.errors import EngineError
    from engine.images.reference import normalize_reference

    out: dict[str, str] = {}
    done: dict[str, str] = {}
    for svc in project.services.values():
        ref = image_name(project, svc)
        if ref not in done:
            try:
                if svc.build is not None:
                    images.build(build_spec(project, svc))
                digest = images.push(ref)
            except EngineError as exc:
                raise ComposeError(f'service "{svc.name}": pushing {ref}: {exc}') from None
            norm = normalize_reference(ref)
            done[ref] = f"{norm.name}@{digest}"
        out[svc.name] = done[ref]
    return out
