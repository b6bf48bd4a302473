"""``pycompose events``: container events of the project, streamed from its supervisor."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import project_and_name
from compose.cli.options import parse_timestamp

# supervisor event (its own, or published by the CLI that did the step) → docker's action
_ACTIONS = {"created": "create", "started": "start", "stopped": "stop", "killed": "kill",
            "exited": "die", "paused": "pause", "unpaused": "unpause", "destroyed": "destroy",
            "healthy": "health_status: healthy", "unhealthy": "health_status: unhealthy",
            "restarting": "restart"}


def register(app: typer.Typer) -> None:
    """Add the ``events`` command to ``app``."""
    app.command("events", help="Receive real time events from containers.")(events_command)


def events_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    since: Annotated[str | None, typer.Option("--since", metavar="TIME", help="Show events "
                                              "since a timestamp or duration (the "
                                              "supervisor keeps its last 1000 events).")
                     ] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="TIME", help="Stream events "
                                              "until this timestamp or duration.")] = None,
) -> int:
    """Stream events until interrupted or ``--until`` (starts the supervisor if none runs)."""
    from compose.orchestrator import client

    start = parse_timestamp(since, "--since") if since else None
    end = parse_timestamp(until, "--until") if until else None
    _project, name = project_and_name(ctx, services or (), need_file=False)
    client.ensure_supervisor(name)
    # with --until, like dockerd: the kept events up to it (from --since, else all), and the
    # stream ends when the clock passes it (the supervisor ends one already past)
    sub = client.Subscription(name, since=start, until=end)
    timer = None
    if end is not None and end > time.time():
        timer = threading.Timer(max(0.0, end - time.time()), sub.close)
        timer.daemon = True
        timer.start()
    wanted = set(services or ())
    try:
        for ev in sub:
            if end is not None and float(str(ev.get("time") or 0)) > end:
                break
            if wanted and ev.get("service") not in wanted:
                continue
            _print(ev, as_json)
    finally:
        if timer is not None:
            timer.cancel()
        sub.close()
    return 0


def _print(ev: dict[str, object], as_json: bool) -> None:
    when = dt.datetime.fromtimestamp(float(str(ev.get("time") or 0)), dt.UTC)
    action = _ACTIONS.get(str(ev.get("event")), str(ev.get("event")))
    attrs = {"name": ev.get("name"), "service": ev.get("service")}
    for key, attr in (("image", "image"), ("exit_code", "exitCode"), ("signal", "signal")):
        if ev.get(key) not in (None, ""):  # docker sets these only where they apply
            attrs[attr] = ev.get(key)
    if as_json:
        terminal.line(json.dumps({"time": when.isoformat(), "type": "container",
                                  "action": action, "id": ev.get("container"),
                                  "service": ev.get("service"), "attributes": attrs}))
        return
    detail = ", ".join(f"{k}={v}" for k, v in attrs.items())
    terminal.line(f"{when:%Y-%m-%d %H:%M:%S.%f} container {action} {ev.get('container')} "
                  f"({detail})")
