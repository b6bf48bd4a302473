"""Helpers shared by the image commands: progress printing, sizes, service → image/build."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from compose.cli import terminal

if TYPE_CHECKING:
    from compose.config.model import Project, Service
    from engine.images import BuildSpec, Progress


def human_size(n: int) -> str:
    """Sizes like docker prints them (decimal units)."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.3g}{unit}" if unit != "B" else f"{int(size)}B"
        size /= 1000
    return f"{size:.3g}GB"


def since(created: str) -> str:
    """'3 minutes ago' for an RFC 3339 time."""
    try:
        when = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created or "N/A"
    secs = int((dt.datetime.now(dt.UTC) - when).total_seconds())
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= length:
            count = secs // length
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "Less than a minute ago"


def progress_printer(prefix: str, quiet: bool):  # type: ignore[no-untyped-def]
    """A progress callback printing one line per finished step (nothing when quiet)."""
    shown: set[tuple[str, str]] = set()

    def show(event: Progress) -> None:
        if quiet or event.status in ("Downloading", "Pushing"):
            return
        key = (event.what, event.status)
        if key in shown:
            return
        shown.add(key)
        what = event.what.removeprefix("sha256:")[:12] if event.what.startswith(
            "sha256:") else event.what
        terminal.line(f"{prefix} {what}: {event.status}" if prefix else f"{what}: {event.status}")

    return show


def image_name(project: Project, service: Service) -> str:
    """The image a service runs: its ``image:``, else ``<project>-<service>`` like compose v2."""
    return service.image or f"{project.name}-{service.name}"


def build_spec(project: Project, service: Service, *, no_cache: bool = False,
               pull: bool = False, extra_args: dict[str, str] | None = None) -> BuildSpec:
    """Turn a service's ``build:`` section into an engine BuildSpec."""
    from compose.errors import ComposeError
    from engine.images import BuildSpec

    b = service.build
    if b is None:
        raise ComposeError(f"service {service.name!r} has no build section")
    if "://" in b.context or b.context.startswith("git@"):
        raise ComposeError(f"service {service.name!r}: remote build contexts ({b.context}) "
                           "are not supported (no network)")
    args = {**dict(b.args), **(extra_args or {})}
    network = "host" if b.network == "host" else "none"
    tags = (image_name(project, service),) + tuple(b.tags)
    return BuildSpec(context=Path(b.context), dockerfile=b.dockerfile or "Dockerfile",
                     dockerfile_inline=b.dockerfile_inline,
                     args=tuple(args.items()), target=b.target,
                     labels=tuple(dict(b.labels).items()), network=network, tags=tags,
                     no_cache=no_cache or b.no_cache, pull=pull or b.pull)


def select_services(project: Project, names: list[str] | None) -> list[Service]:
    """The named services (all when none named); unknown names are an error."""
    from compose.errors import ComposeError

    if not names:
        return list(project.services.values())
    unknown = [n for n in names if n not in project.services]
    if unknown:
        raise ComposeError(f"no such service: {unknown[0]}")
    return [project.services[n] for n in names]
