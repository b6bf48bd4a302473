"""``pycompose ls``: the projects that have containers on this engine."""
from __future__ import annotations

import json
from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import backend
from compose.orchestrator import labels as L


def register(app: typer.Typer) -> None:
    """Add the ``ls`` command to ``app``."""
    app.command("ls", help="List running compose projects.")(ls_command)


def ls_command(
    all_: Annotated[bool, typer.Option("-a", "--all", help="Show stopped projects too.")
                    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only display names.")] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT")] = "table",
) -> int:
    """NAME, STATUS (``running(3), exited(1)``) and CONFIG FILES of each project."""
    projects: dict[str, dict[str, int]] = {}
    files: dict[str, str] = {}
    for c in backend().list_containers(None):
        name = c.labels.get(L.PROJECT, "")
        projects.setdefault(name, {}).setdefault(c.state, 0)
        projects[name][c.state] += 1
        files[name] = c.labels.get(L.CONFIG_FILES, "")
    rows = []
    for name in sorted(projects):
        counts = projects[name]
        if not all_ and not counts.get("running"):
            continue
        status = ", ".join(f"{s}({n})" for s, n in sorted(counts.items()))
        rows.append([name, status, files[name]])
    if quiet:
        for r in rows:
            terminal.line(r[0])
    elif fmt == "json":
        terminal.line(json.dumps([{"Name": r[0], "Status": r[1], "ConfigFiles": r[2]}
                                  for r in rows]))
    else:
        terminal.write(terminal.table(("NAME", "STATUS", "CONFIG FILES"), rows))
    return 0
