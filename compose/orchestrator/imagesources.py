"""Where images come from besides a service's own: image mounts (``volumes: type: image``)
and the timed refresh of ``pull_policy`` daily/weekly/every_<d>."""
from __future__ import annotations

import time

from compose.config.model import Project, Service
from compose.errors import ComposeError
from compose.orchestrator.imagespec import image_name
from engine import images
from engine.errors import NotFound


def image_mount_layers(project: Project, svc: Service, source: str,
                 subpath: str | None) -> tuple[str, ...]:
    """``volumes: type: image``: the source image (or the image of the service of that name,
    as docker compose resolves it), pulled when missing; its layers to stack read-only."""
    ref = source
    if not images.exists(ref) and source in project.services:
        ref = image_name(project, project.services[source])
    if not images.exists(ref):
        images.pull(ref)
    try:
        return images.mount_layers(ref, subpath)
    except NotFound as exc:
        raise ComposeError(f'service "{svc.name}": image mount of {source}: {exc.message}',
                           key_path=f"services.{svc.name}.volumes") from None


def refresh_due(ref: str, policy: str, refresh_after: str | None = None) -> bool:
    """pull_policy daily/weekly/every_<d> (refresh + pull_refresh_after): pull when the tag
    was last set longer ago than that (docker compose compares with the image's LastTagTime;
    a tag never timed is due)."""
    from compose.config.units import pull_refresh_interval

    interval = pull_refresh_interval(policy, refresh_after)
    if interval is None:
        return False
    last = images.last_tagged(ref)
    return last is None or time.time() > last + interval
