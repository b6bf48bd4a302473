"""Helpers shared by the image commands: progress printing, sizes, service selection."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from compose.cli import terminal

if TYPE_CHECKING:
    from compose.config.model import Project, Service
    from engine.images import Progress


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


def progress_printer(prefix: str, quiet: bool, stderr: bool = False):  # type: ignore[no-untyped-def]
    """A progress callback printing one line per finished step (nothing when quiet), on
    stdout, or on stderr where docker compose writes its progress."""
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
        text = f"{prefix} {what}: {event.status}" if prefix else f"{what}: {event.status}"
        terminal.status(text) if stderr else terminal.line(text)

    return show


def select_services(project: Project, names: list[str] | None) -> list[Service]:
    """The named services (all when none named); unknown names are an error."""
    from compose.errors import ComposeError

    if not names:
        return list(project.services.values())
    unknown = [n for n in names if n not in project.services]
    if unknown:
        raise ComposeError(f"no such service: {unknown[0]}")
    return [project.services[n] for n in names]
