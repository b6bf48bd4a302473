"""``pycompose cp``: copy files between a service container and the host (through ``tar``
run inside the container, so mounted volumes are seen as the container sees them)."""
from __future__ import annotations

import os
import tempfile
from typing import IO, Annotated

import typer

from compose.cli.commands._orch import backend, containers_of, pick_container, project_and_name
from compose.cli.options import rejected
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
    archive: Annotated[bool, typer.Option("-a", "--archive", help="Archive mode (copy all "
                                          "uid/gid information).")] = False,
    follow_link: Annotated[bool, typer.Option("-L", "--follow-link", help="Always follow "
                                              "symbol link in SRC_PATH.")] = False,
    all_: Annotated[bool, rejected("--all", reason="deprecated by docker; use --index")
                    ] = False,
) -> int:
    """``SERVICE:SRC_PATH DEST_PATH`` or ``SRC_PATH SERVICE:DEST_PATH``."""

    into = ":" in dest and not dest.startswith(("/", "."))
    remote = dest if into else source
    if ":" not in remote:
        raise ComposeError("one of SRC or DEST must be SERVICE:PATH")
    service, _, path = remote.partition(":")
    _project, name = project_and_name(ctx, (service,), need_file=False)
    be = backend()
    c = pick_container(be, name, service, index)
    if into:  # like docker compose: every running replica unless --index picks one
        replicas = containers_of(be, name, [service], all=False)
        code = 0
        for target in [c] if index is not None or not replicas else replicas:
            with tempfile.TemporaryFile() as tmp:
                code = _copy_in(target.id, source, path, tmp, archive=archive,
                                follow=follow_link)
            if code != 0:
                break
    else:
        code = _copy_out(c.id, path, dest, archive=archive, follow=follow_link)
    if code != 0:
        raise ComposeError(f"cp failed in the container (tar exited with {code})")
    return 0


def _copy_out(cid: str, path: str, dest: str, *, archive: bool, follow: bool) -> int:
    """``path`` of the container to ``dest`` on the host (a directory receives it; else it
    is the new name)."""
    import subprocess

    from engine import containers

    with tempfile.TemporaryFile() as tmp:
        parent, base = os.path.split(path.rstrip("/") or "/")
        flags = "-chf" if follow else "-cf"
        code = containers.exec(cid, ["tar", "-C", parent or "/", flags, "-", base],
                               stdout=tmp.fileno(), stderr=2)
        if code != 0:
            return code
        tmp.seek(0)
        os.makedirs(dest, exist_ok=True) if dest.endswith("/") else None
        target = dest if os.path.isdir(dest) else os.path.dirname(dest) or "."
        owner = [] if archive else ["--no-same-owner"]
        subprocess.run(["tar", "-C", target, *owner, "-xf", "-"], stdin=tmp, check=True)
        if not os.path.isdir(dest) and os.path.basename(dest) != base:
            os.replace(os.path.join(target, base), dest)
    return 0


def _copy_in(cid: str, source: str, dest: str, tmp: IO[bytes], *, archive: bool,
             follow: bool) -> int:
    """docker's rules: into DEST when it is a directory in the container; otherwise DEST is
    the new name (its parent must exist; a trailing / means a directory that must exist).
    Files belong to root unless -a keeps the host's uid/gid."""
    import tarfile

    from engine import containers

    src = os.path.realpath(source) if follow else os.path.abspath(source)
    if not os.path.lexists(src):
        raise ComposeError(f"no such file or directory: {source}")
    is_dir = containers.exec(cid, ["test", "-d", dest], stderr=2) == 0
    if is_dir:
        parent, name = dest, os.path.basename(os.path.abspath(source))
    elif dest.endswith("/"):
        raise ComposeError(f"destination directory {dest} does not exist in the container")
    else:
        parent, name = os.path.split(dest.rstrip("/"))
        parent = parent or "/"

    def owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if not archive:
            info.uid = info.gid = 0
            info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(src, arcname=name, filter=owner)
    tmp.seek(0)
    code = containers.exec(cid, ["tar", "-C", parent, "-xf", "-"], stdin=tmp.fileno(),
                           stderr=2)
    if code != 0 and containers.exec(cid, ["test", "-d", parent], stderr=2) != 0:
        raise ComposeError(f"no such directory in the container: {parent}")
    return code
