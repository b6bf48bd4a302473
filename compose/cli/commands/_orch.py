"""Shared helpers of the orchestration commands: backend, project, containers, progress, logs."""
from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import typer

from compose.cli import terminal
from compose.errors import ComposeError
from compose.orchestrator import labels as L
from compose.orchestrator.lookup import (  # noqa: F401 - moved there; re-exported here
    containers_of,
    merged_logs,
    number,
    pick_container,
)

if TYPE_CHECKING:  # kept out of start-up: `--help` imports every command module
    from compose.config.model import Project
    from compose.orchestrator.backend import Backend, ContainerRef

log = logging.getLogger(__name__)

_LOG_COLOURS = ("\x1b[36m", "\x1b[33m", "\x1b[32m", "\x1b[35m", "\x1b[34m", "\x1b[96m",
                "\x1b[93m", "\x1b[92m", "\x1b[95m", "\x1b[94m")


def backend() -> Backend:
    """The engine backend (imported lazily: engine imports are not free)."""
    from compose.orchestrator.engine_backend import EngineBackend

    return EngineBackend()


def project_and_name(ctx: typer.Context, services: Iterable[str] = (),
                     need_file: bool = True) -> tuple[Project | None, str]:
    """Load the project; without a compose file, ``-p NAME`` is enough when ``need_file`` is
    False (down/ps/logs work from labels, like docker compose)."""
    try:
        project = ctx.obj.load_project(services=tuple(services))
        return project, project.name
    except ComposeError:
        if need_file or not ctx.obj.project_name:
            raise
        return None, ctx.obj.project_name


def check_services(project: Project | None, services: Iterable[str]) -> None:
    if project is None:
        return
    for s in services:
        if s not in project.services:
            raise ComposeError(f"no such service: {s}")


_DONE = frozenset({"Started", "Created", "Running", "Removed", "Stopped", "Healthy", "Exited",
                   "Pulled", "Built", "Killed", "Paused", "Unpaused", "Restarted"})


class Progress:
    """Progress output: ``plain`` lines like docker compose, ``json`` lines, or nothing."""

    def __init__(self, mode: str) -> None:
        if mode == "auto":
            mode = "tty" if sys.stderr.isatty() else "plain"
        self.mode = mode
        self.lock = threading.Lock()

    def __call__(self, obj: str, status: str) -> None:
        if self.mode == "quiet":
            return
        kind, _, rest = obj.partition(" ")
        if kind not in ("Network", "Volume", "Image") or not rest:
            kind, rest = "Container", obj
        with self.lock:
            if self.mode == "json":
                sys.stderr.write(json.dumps({"id": f"{kind} {rest}", "status": status}) + "\n")
            elif self.mode == "tty":
                self._redraw(f"{kind} {rest}", status)
            else:
                # docker: Fprintln("", id, text, details): a space between each, details
                # empty here, hence the trailing one
                sys.stderr.write(f" {kind} {rest} {status} \n")
            sys.stderr.flush()

    def _redraw(self, key: str, status: str) -> None:
        """The live view: one line per object with its state and elapsed time, redrawn in
        place on every change (cursor up + clear line)."""
        now = time.monotonic()
        items: dict[str, list[Any]] = self.__dict__.setdefault("_items", {})
        entry = items.setdefault(key, [status, now, now])
        entry[0], entry[2] = status, now
        done = sum(1 for st, _, _ in items.values() if st in _DONE)
        width = max(len(k) for k in items)
        lines = [f"[+] Running {done}/{len(items)}"]
        for k, (st, began, last) in items.items():
            mark = "\u2714" if st in _DONE else ("\u2718" if st.startswith("Error") else
                                                  "\u283f")
            lines.append(f" {mark} {k.ljust(width)}  {st:<12} {last - began:5.1f}s")
        drawn = int(self.__dict__.get("_drawn", 0))
        if drawn:
            sys.stderr.write(f"\x1b[{drawn}A")
        sys.stderr.write("".join(f"\x1b[2K{ln}\n" for ln in lines))
        self.__dict__["_drawn"] = len(lines)


def log_prefix(c: ContainerRef) -> str:
    """``web-1`` like docker compose v2 (``container_name`` when set)."""
    service = c.labels.get(L.SERVICE, c.name)
    default = f"{c.labels.get(L.PROJECT)}-{service}-{number(c)}"
    return f"{service}-{number(c)}" if c.name == default else c.name


class LogPrinter:
    """Prints ``web-1  | line`` with a colour per container, padded to the widest prefix."""

    def __init__(self, containers: list[ContainerRef], *, colour: bool, timestamps: bool,
                 prefix: bool = True) -> None:
        self.width = max((len(log_prefix(c)) for c in containers), default=0)
        self.colours = {c.id: _LOG_COLOURS[i % len(_LOG_COLOURS)]
                        for i, c in enumerate(containers)}
        self.colour = colour
        self.timestamps = timestamps
        self.prefix = prefix

    def add(self, c: ContainerRef) -> None:
        """A container that appeared while following (its own colour; the prefix widens)."""
        self.colours.setdefault(c.id, _LOG_COLOURS[len(self.colours) % len(_LOG_COLOURS)])
        self.width = max(self.width, len(log_prefix(c)))

    def format(self, c: ContainerRef, time: str, text: str) -> str:
        body = f"{time} {text}" if self.timestamps else text
        if not self.prefix:
            return body
        head = f"{log_prefix(c).ljust(self.width)}  | "
        if self.colour:
            head = f"{self.colours.get(c.id, '')}{head}\x1b[0m"
        return head + body

    def print(self, c: ContainerRef, time: str, text: str, stream: str = "stdout") -> None:
        """One line, on stderr when the container wrote it there (as docker compose)."""
        line = self.format(c, time, text.rstrip("\n"))
        if stream == "stderr":
            terminal.status(line)
        else:
            terminal.line(line)


def follow_logs(be: Backend, cs: list[ContainerRef], q: queue.Queue[Any], *,
                since: str | None = None, tail: int | None = None) -> list[threading.Thread]:
    """One thread per container pushing ("log", c, time, text, stream) then ("eof", c) to
    ``q``."""
    from engine.errors import LogsNotSupported

    def pump(c: ContainerRef) -> None:
        try:
            for ln in be.logs(c.id, follow=True, since=since, tail=tail):
                q.put(("log", c, ln.time, ln.text, ln.stream))
        except LogsNotSupported as exc:  # logging.driver none: nothing to follow
            log.warning("Can't retrieve logs for \"%s\": Error response from daemon: %s", c.name,
                        exc.message)
        except Exception as exc:  # a removed container ends its stream
            q.put(("log", c, "", f"(log stream ended: {exc})", "stdout"))
        q.put(("eof", c))

    threads = [threading.Thread(target=pump, args=(c,), daemon=True, name=f"logs-{c.name}")
               for c in cs]
    for t in threads:
        t.start()
    return threads


def human_since(iso: str) -> str:
    """'5 seconds ago' for an RFC 3339 time (docker's wording)."""
    if not iso:
        return ""
    then = parse_time(iso)
    return f"{human_duration((dt.datetime.now(dt.UTC) - then).total_seconds())} ago"


def parse_time(iso: str) -> dt.datetime:
    text = iso.replace("Z", "+00:00")
    if "." in text:  # nanoseconds: Python parses at most microseconds
        head, _, frac = text.partition(".")
        digits = "".join(ch for ch in frac if ch.isdigit())
        zone = frac[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    value = dt.datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def human_duration(seconds: float) -> str:
    """docker's go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = s // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(s / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    return f"{s // 86400} days"


def status_text(c: ContainerRef) -> str:
    """docker's STATUS column: ``Up 5 seconds (healthy)``, ``Exited (1) 2 minutes ago``."""
    from compose.orchestrator import state

    row = state.get(c.id)
    if c.state in ("running", "paused"):
        up = human_duration((dt.datetime.now(dt.UTC) - parse_time(c.started_at)).total_seconds()
                            ) if c.started_at else ""
        text = f"Up {up}" if up else "Up"
        if c.state == "paused":
            text += " (Paused)"
        elif row is not None and row.health is not None:
            health = row.health_status
            text += f" ({'health: starting' if health == 'starting' else health})"
        return text
    if c.state == "restarting":
        return f"Restarting ({c.exit_code or 0})"
    if c.state == "created":
        return "Created"
    if c.state == "exited":
        return f"Exited ({c.exit_code}) {human_since(str(c.extra.get('finished_at', '')))}".rstrip()
    return c.state.capitalize()


def run_each(cs: list[ContainerRef], action: str, fn: Any, progress: Progress) -> int:
    """Apply ``fn(container)`` to each container with progress lines; exit code 1 on errors."""
    failed = 0
    for c in cs:
        progress(c.name, f"{action}ing" if not action.endswith("e") else f"{action[:-1]}ing")
        try:
            fn(c)
        except Exception as exc:
            terminal.error(f"{c.name}: {exc}")
            failed += 1
            continue
        progress(c.name, f"{action}ed" if not action.endswith("e") else f"{action}d")
    return 1 if failed else 0


def iter_json(objs: Iterable[dict[str, Any]]) -> Iterator[str]:
    for o in objs:
        yield json.dumps(o)
