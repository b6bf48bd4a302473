"""``pycompose stats``: CPU, memory and pids of the services' containers."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._simple import targets

if TYPE_CHECKING:
    from compose.cli.gotemplate import Row
    from compose.orchestrator.backend import ContainerRef
    from engine.containers import Stats


def register(app: typer.Typer) -> None:
    """Add the ``stats`` command to ``app``."""
    app.command("stats", help="Display a live stream of container resource usage.")(
        stats_command)


def _mib(n: int | None) -> str:
    return "-" if n is None else f"{n / (1 << 20):.2f}MiB"


HEADERS = {"Container": "CONTAINER ID", "ID": "CONTAINER ID", "Name": "NAME",
           "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
           "PIDs": "PIDS"}
DEFAULT_TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}"
                 "\t{{.PIDs}}")


def stats_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Print one sample and exit.")
                         ] = False,
    all_: Annotated[bool, typer.Option("-a", "--all", help="Show all containers (default "
                                       "shows just running).")] = False,
    no_trunc: Annotated[bool, typer.Option("--no-trunc", help="Do not truncate output.")
                        ] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT", help="table, json or a "
                                     "Go template.")] = "table",
) -> int:
    """CPU % over a one-second window (two cgroup samples), memory and pids."""
    from compose.cli.gotemplate import format_rows
    from compose.cli.options import template_of

    fmt = template_of(fmt, DEFAULT_TABLE)
    _be, _name, cs, _p = targets(ctx, services, running=None if all_ else True)
    while True:
        first = {c.id: _sample(c.id) for c in cs}
        t0 = time.monotonic()
        time.sleep(1.0)  # CPU % needs two samples one display interval apart
        elapsed = time.monotonic() - t0
        rows = [_row(c, first[c.id], _sample(c.id), elapsed, no_trunc) for c in cs]
        terminal.write(format_rows(fmt, rows, HEADERS))
        if no_stream:
            return 0


def _sample(cid: str) -> Stats | None:
    """The container's counters, None when it is not running (docker shows zeros)."""
    from engine import containers
    from engine.errors import EngineError

    try:
        return containers.stats(cid)
    except EngineError:
        return None


def _row(c: ContainerRef, first: Stats | None, now: Stats | None, elapsed: float,
         no_trunc: bool) -> Row:
    from compose.cli.gotemplate import Row

    cid = c.id if no_trunc else c.id[:12]
    if first is None or now is None:
        return Row(ID=cid, Container=cid, Name=c.name, CPUPerc="0.00%", MemUsage="0B / 0B",
                   MemPerc="0.00%", PIDs="0")
    cpu = (now.cpu_usage_ns - first.cpu_usage_ns) / (elapsed * 1e9) * 100
    mem_pct = f"{now.memory_usage / now.memory_limit * 100:.2f}%" if now.memory_limit else "-"
    return Row(ID=cid, Container=cid, Name=c.name, CPUPerc=f"{cpu:.2f}%",
               MemUsage=f"{_mib(now.memory_usage)} / {_mib(now.memory_limit)}",
               MemPerc=mem_pct, PIDs=str(now.pids_current))
