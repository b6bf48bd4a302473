"""``pycompose cp``: copy files between a service container and the host (through ``tar``
run inside the container, so mounted volumes are seen as the container sees them)."""
from __future__ import annotations

import os
from typing import Annotated

import typer

from compose.cli.commands._orch import backend, pick_container, project_and_name
from compose.errors import ComposeError


def register(app: typer.Typer) -> None:
    """Add the ``cp`` command to ``app``."""
    app.command("cp", help="Copy files/folders between a service container and the local "
                "filesystem.")(cp_command)


def cp_command(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="SRC")],
    dest: Annotated[str, typer.Argument(metavar="DEST")],
    index: Annotated[int | None, typer.Option("--index", metavar="N")] = None,
) -> int:
    """``SERVICE:SRC_PATH DEST_PATH`` or ``SRC_PATH SERVICE:DEST_PATH``."""
    from engine import containers

    into = ":" in dest and not dest.startswith(("/", "."))
    remote = dest if into else source
    if ":" not in remote:
        raise ComposeError("one of SRC or DEST must be SERVICE:PATH")
    service, _, path = remote.partition(":")
    _project, name = project_and_name(ctx, (service,), need_file=False)
    c = pick_container(backend(), name, service, index)
    import subprocess
    import tempfile

    with tempfile.TemporaryFile() as tmp:
        if into:
            parent, base = os.path.split(os.path.abspath(source))
            subprocess.run(["tar", "-C", parent, "-cf", "-", base], stdout=tmp, check=True)
            tmp.seek(0)
            code = containers.exec(c.id, ["tar", "-C", path, "-xf", "-"], stdin=tmp.fileno(),
                                   stderr=2)
        else:
            parent, base = os.path.split(path.rstrip("/") or "/")
            code = containers.exec(c.id, ["tar", "-C", parent or "/", "-cf", "-", base],
                                   stdout=tmp.fileno(), stderr=2)
            if code == 0:
                tmp.seek(0)
                os.makedirs(dest, exist_ok=True) if dest.endswith("/") else None
                target = dest if os.path.isdir(dest) else os.path.dirname(dest) or "."
                subprocess.run(["tar", "-C", target, "-xf", "-"], stdin=tmp, check=True)
                if not os.path.isdir(dest) and os.path.basename(dest) != base:
                    os.replace(os.path.join(target, base), dest)
    if code != 0:
        raise ComposeError(f"cp failed in the container (tar exited with {code})")
    return 0
