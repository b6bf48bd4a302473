"""``pycompose stats``: CPU, memory and pids of the services' containers."""
from __future__ import annotations

import time
from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._simple import targets


def register(app: typer.Typer) -> None:
    """Add the ``stats`` command to ``app``."""
    app.command("stats", help="Display a live stream of container resource usage.")(
        stats_command)


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / (1 << 20):.2f}MiB"


def stats_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Print one sample and exit.")
                         ] = False,
) -> int:
    """CPU % over a one-second window (two cgroup samples), memory and pids."""
    from engine import containers

    _be, _name, cs, _p = targets(ctx, services, running=True)
    while True:
        first = {c.id: containers.stats(c.id) for c in cs}
        t0 = time.monotonic()
        time.sleep(1.0)  # CPU % needs two samples one display interval apart
        elapsed = time.monotonic() - t0
        rows = []
        for c in cs:
            s = containers.stats(c.id)
            cpu = (s.cpu_usage_ns - first[c.id].cpu_usage_ns) / (elapsed * 1e9) * 100
            mem_pct = f"{s.memory_usage / s.memory_limit * 100:.2f}%" if s.memory_limit else "-"
            rows.append([c.id[:12], c.name, f"{cpu:.2f}%",
                         f"{_mib(s.memory_usage)} / {_mib(s.memory_limit)}", mem_pct,
                         str(s.pids_current)])
        terminal.write(terminal.table(("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT",
                                       "MEM %", "PIDS"), rows))
        if no_stream:
            return 0
