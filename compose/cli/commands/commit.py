"""``pycompose commit SERVICE [REPOSITORY[:TAG]]``: a new image from a service container's
changes (docker compose's flags: author, message, Dockerfile-style changes, pause)."""
from __future__ import annotations

import json
import shlex
from typing import Annotated, Any

import typer

from compose.cli import terminal
from compose.cli.commands._orch import check_services, project_and_name
from compose.cli.options import parse_go_bool
from compose.errors import ComposeError

# Dockerfile instructions `commit --change` accepts (docker's list, minus ONBUILD/HEALTHCHECK).
_CHANGES = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "VOLUME", "WORKDIR",
            "STOPSIGNAL")


def register(app: typer.Typer) -> None:
    """Add the ``commit`` command to ``app``."""
    app.command("commit", help="Create a new image from a service container's "
                "changes.")(commit_command)


def commit_command(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(metavar="SERVICE")],
    repository: Annotated[str | None, typer.Argument(metavar="[REPOSITORY[:TAG]]")] = None,
    author: Annotated[str, typer.Option("-a", "--author", metavar="TEXT",
                                        help="Author (e.g. \"Jane <jane@example.com>\").")
                      ] = "",
    message: Annotated[str, typer.Option("-m", "--message", metavar="TEXT",
                                         help="Commit message.")] = "",
    change: Annotated[list[str] | None, typer.Option("-c", "--change", metavar="INSTRUCTION",
                                                     help="Apply a Dockerfile instruction "
                                                     "to the image config.")] = None,
    pause: Annotated[str, typer.Option("-p", "--pause", metavar="BOOL",
                                       help="Pause the container during commit (true).")
                     ] = "true",
    index: Annotated[int | None, typer.Option("--index", metavar="N", help="Replica index "
                                              "(default 1).")] = None,
) -> int:
    """Print the new image's id."""
    from compose.cli.commands.export import pick_any
    from compose.orchestrator import labels as L
    from engine.images.commit import commit

    changes = parse_changes(change or [])
    project, name = project_and_name(ctx, (service,), need_file=False)
    check_services(project, (service,))
    c = pick_any(name, service, index)
    image = commit(c.id, c.labels.get(L.IMAGE, ""), tags=[repository] if repository else [],
                   author=author, message=message, changes=changes,
                   pause=parse_go_bool(pause, "--pause"))
    terminal.line(image.id)
    return 0


def parse_changes(items: list[str]) -> dict[str, Any]:
    """``-c`` instructions → image config keys."""
    out: dict[str, Any] = {}
    for item in items:
        word, _, rest = item.strip().partition(" ")
        key, rest = word.upper(), rest.strip()
        if key not in _CHANGES:
            raise ComposeError(f"--change {item!r}: {word} is not supported (supported: "
                               f"{', '.join(_CHANGES)})")
        if not rest:
            raise ComposeError(f"--change {item!r}: {key} needs an argument")
        _apply_change(out, key, rest)
    return out


def _apply_change(out: dict[str, Any], key: str, rest: str) -> None:
    if key in ("CMD", "ENTRYPOINT"):
        name = "Cmd" if key == "CMD" else "Entrypoint"
        out[name] = _exec_form(rest) or ["/bin/sh", "-c", rest]
    elif key in ("ENV", "LABEL"):
        pairs = _pairs(rest)
        if key == "ENV":
            out.setdefault("Env", []).extend(f"{k}={v}" for k, v in pairs)
        else:
            out.setdefault("Labels", {}).update(pairs)
    elif key == "EXPOSE":
        for port in rest.split():
            out.setdefault("ExposedPorts", {})[port if "/" in port else f"{port}/tcp"] = {}
    elif key == "VOLUME":
        for path in _exec_form(rest) or rest.split():
            out.setdefault("Volumes", {})[path] = {}
    else:
        out[{"USER": "User", "WORKDIR": "WorkingDir", "STOPSIGNAL": "StopSignal"}[key]] = rest


def _exec_form(text: str) -> list[str] | None:
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return [str(v) for v in value] if isinstance(value, list) else None


def _pairs(text: str) -> list[tuple[str, str]]:
    words = shlex.split(text)
    if words and "=" not in words[0]:  # legacy `ENV KEY value with spaces`
        return [(words[0], " ".join(words[1:]))]
    return [(k, v) for k, _, v in (w.partition("=") for w in words)]
