"""``pycompose ls``: the projects that have containers on this engine."""
from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import backend
from compose.cli.gotemplate import Row, format_rows, is_template
from compose.orchestrator import labels as L


def register(app: typer.Typer) -> None:
    """Add the ``ls`` command to ``app``."""
    app.command("ls", help="List running compose projects.")(ls_command)


def ls_command(
    all_: Annotated[bool, typer.Option("-a", "--all", help="Show stopped projects too.")
                    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only display names.")] = False,
    fmt: Annotated[str, typer.Option("--format", metavar="FORMAT",
                                     help="table, json or a Go template.")] = "table",
    filters: Annotated[list[str] | None, typer.Option("--filter", metavar="name=VALUE",
                                                      help="Filter by project name (a "
                                                      "regular expression).")] = None,
) -> int:
    """NAME, STATUS (``running(3), exited(1)``) and CONFIG FILES of each project."""
    names = _name_filters(filters or [])
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
        if names and not any(n == name or re.search(n, name) for n in names):
            continue
        status = ", ".join(f"{s}({n})" for s, n in sorted(counts.items()))
        rows.append([name, status, files[name]])
    if quiet:
        for r in rows:
            terminal.line(r[0])
    elif fmt == "json":
        terminal.line(json.dumps([{"Name": r[0], "Status": r[1], "ConfigFiles": r[2]}
                                  for r in rows], ensure_ascii=False, separators=(",", ":")))
    elif fmt in ("table", "pretty", ""):
        terminal.write(terminal.table(("NAME", "STATUS", "CONFIG FILES"), rows))
    elif is_template(fmt):
        terminal.write(format_rows(fmt, [Row(Name=r[0], Status=r[1], ConfigFiles=r[2])
                                         for r in rows],
                                   {"Name": "NAME", "Status": "STATUS",
                                    "ConfigFiles": "CONFIG FILES"}))
    else:
        raise typer.BadParameter(f"format value {fmt!r} could not be parsed (table, json or "
                                 "a Go template)", param_hint="--format")
    return 0


def _name_filters(filters: list[str]) -> list[str]:
    """docker compose ls accepts one filter key, ``name`` (exact or regular expression)."""
    names = []
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise typer.BadParameter(f"bad format of filter (expected name=value): {f!r}",
                                     param_hint="--filter")
        if key != "name":
            raise typer.BadParameter(f"invalid filter {key!r}", param_hint="--filter")
        try:
            re.compile(value)
        except re.error:
            pass  # docker skips a pattern that does not compile (exact match only)
        names.append(value)
    return names
