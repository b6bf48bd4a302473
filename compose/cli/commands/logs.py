"""``pycompose logs``: the services' output, merged in time order, with coloured prefixes."""
from __future__ import annotations

import queue
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from compose.cli import terminal
from compose.cli.commands._orch import (
    LogPrinter,
    backend,
    check_services,
    containers_of,
    follow_logs,
    merged_logs,
    parse_time,
    project_and_name,
)

if TYPE_CHECKING:
    from compose.orchestrator.backend import Backend, ContainerRef


def register(app: typer.Typer) -> None:
    """Add the ``logs`` command to ``app``."""
    app.command("logs", help="View output from containers.")(logs_command)


def logs_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Follow log output.")] = False,
    tail: Annotated[str, typer.Option("-n", "--tail", metavar="N",
                                      help="Lines to show from the end (or 'all').")] = "all",
    since: Annotated[str | None, typer.Option("--since", metavar="TIME",
                                              help="Show logs since an RFC 3339 time.")] = None,
    timestamps: Annotated[bool, typer.Option("-t", "--timestamps", help="Show timestamps.")
                          ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Monochrome output.")] = False,
    no_prefix: Annotated[bool, typer.Option("--no-log-prefix", help="No service prefix.")
                         ] = False,
    index: Annotated[int | None, typer.Option("--index", metavar="N",
                                              help="Replica index.")] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME",
                                              help="Show logs before a timestamp "
                                              "(RFC 3339) or relative (e.g. 42m).")] = None,
) -> int:
    """Print logs (merged in time order); -f keeps following until Ctrl-C or all exit."""
    project, name = project_and_name(ctx, services or (), need_file=False)
    check_services(project, services or ())
    if tail != "all" and not tail.lstrip("-").isdigit():
        raise typer.BadParameter(f"invalid value {tail!r}", param_hint="--tail")
    n_tail = None if tail == "all" or int(tail) < 0 else int(tail)
    since = _normalize(since, "--since")
    until = _normalize(until, "--until")
    be = backend()
    cs = containers_of(be, name, services or ())
    if index is not None:
        cs = [c for c in cs if c.labels.get("com.docker.compose.container-number") == str(index)]
    printer = LogPrinter(cs, colour=terminal.use_colour() and not no_color,
                         timestamps=timestamps, prefix=not no_prefix)
    if not follow:
        for time, c, text, stream in merged_logs(be, cs, since=since, tail=n_tail):
            if until is None or time <= until:
                printer.print(c, time, text, stream)
        return 0
    watch = _Watch(name, tuple(services or ()), index)
    return _follow(be, cs, printer, since, n_tail, until, watch)


def _normalize(value: str | None, flag: str) -> str | None:
    """docker's time forms → RFC 3339 UTC, comparable with log lines as text."""
    if value is None:
        return None
    from engine.containers.logfile import normalize_since

    try:
        return normalize_since(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=flag) from None


class _Watch:
    """Which project containers ``logs -f`` should follow as they appear (docker compose
    attaches to containers started after it began: a later ``up``, a scale-up)."""

    def __init__(self, project: str, services: tuple[str, ...], index: int | None) -> None:
        self.project, self.services, self.index = project, services, index
        self.since = time.time()

    def new_containers(self, be: Backend, seen: set[str]) -> list[ContainerRef]:
        """Running ones, and those started since (a short job may be done already)."""
        found = [c for c in containers_of(be, self.project, self.services)
                 if c.id not in seen and (c.running or self._started_since(c))]
        if self.index is not None:
            found = [c for c in found
                     if c.labels.get("com.docker.compose.container-number") == str(self.index)]
        return found

    def _started_since(self, c: ContainerRef) -> bool:
        return bool(c.started_at) and parse_time(c.started_at).timestamp() >= self.since


_POLL = 0.5  # seconds between looks for new containers while following


def _follow(be: Backend, cs: list[ContainerRef], printer: LogPrinter, since: str | None,
            tail: int | None, until: str | None, watch: _Watch) -> int:
    """Print lines as they come until every stream ends (or the clock passes ``until``);
    containers started meanwhile are followed too."""
    q: queue.Queue[Any] = queue.Queue()
    follow_logs(be, cs, q, since=since, tail=tail)
    open_streams = len(cs)
    seen = {c.id for c in cs}
    deadline = None if until is None else parse_time(until).timestamp()
    next_look = time.monotonic() + _POLL
    while open_streams:
        if time.monotonic() >= next_look:
            fresh = watch.new_containers(be, seen)
            for c in fresh:
                seen.add(c.id)
                printer.add(c)
            follow_logs(be, fresh, q)
            open_streams += len(fresh)
            next_look = time.monotonic() + _POLL
        try:
            wait = min(_POLL, max(0.0, next_look - time.monotonic()))
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.time()))
            item = q.get(timeout=wait)
        except queue.Empty:
            if deadline is not None and time.time() >= deadline:
                return 0
            continue
        if item[0] == "eof":
            open_streams -= 1
        elif until is None or item[2] <= until:
            printer.print(item[1], item[2], item[3], item[4])
    return 0
