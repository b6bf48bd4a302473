"""``pycompose version`` (and the global ``--version``): docker compose's output shapes."""
from __future__ import annotations

import json
from typing import Annotated

import typer

from compose.cli import terminal


def register(app: typer.Typer) -> None:
    """Add the ``version`` command to ``app``."""
    app.command("version", help="Show the pycompose version information.")(version_command)


def version() -> str:
    """The installed pycompose version, ``v``-prefixed like docker compose's."""
    from importlib import metadata

    try:
        return "v" + metadata.version("pycompose")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        return "v0.0.0+source"


def render(fmt: str, short: bool) -> str:
    """The text ``version`` prints (without the final newline)."""
    v = version()
    if short:
        return v.removeprefix("v")
    if fmt == "json":
        return json.dumps({"version": v}, separators=(",", ":"))
    from compose.cli.gotemplate import Row, format_rows, is_template

    if is_template(fmt):
        return format_rows(fmt, [Row(Version=v)], {"Version": "VERSION"}).rstrip("\n")
    return f"pycompose version {v}"  # docker: any other value prints the pretty form


def version_command(
    fmt: Annotated[str, typer.Option("-f", "--format", metavar="FORMAT",
                                     help="pretty, json or a Go template ({{.Version}}).")
                   ] = "pretty",
    short: Annotated[bool, typer.Option("--short", help="Only the version number.")] = False,
) -> int:
    """Print the version; works without a compose file."""
    terminal.line(render(fmt, short))
    return 0
