"""Building blocks shared by the small lifecycle commands (start, stop, kill, ...)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import typer

from compose.cli.commands._orch import Progress, backend, check_services, containers_of
from compose.cli.commands._orch import project_and_name as _load
from compose.errors import ComposeError

if TYPE_CHECKING:
    from compose.orchestrator.backend import Backend, ContainerRef
    from compose.orchestrator.hooks import Hooks


def targets(ctx: typer.Context, services: list[str] | None, *, running: bool | None = None,
            need_file: bool = False, with_deps: bool = False,
            ) -> tuple[Backend, str, list[ContainerRef], Progress]:
    """Backend, project name, the selected containers and a progress printer; with
    ``with_deps``, the named services' dependencies' containers too (``start``)."""
    project, name = _load(ctx, services or (), need_file=need_file)
    check_services(project, services or ())
    if with_deps and services and project is not None:
        from compose.orchestrator.project import with_dependencies

        services = with_dependencies(project, services)
    if not services and project is not None:
        # docker compose: the model's services, not other files' containers of the project
        services = list(project.services)
    be = backend()
    cs = containers_of(be, name, services or ())
    if running is True:
        cs = [c for c in cs if c.running]
    elif running is False:
        cs = [c for c in cs if not c.running]
    return be, name, cs, Progress(ctx.obj.progress)


def hooks_of(ctx: typer.Context, services: list[str] | None) -> Hooks:
    """The services' lifecycle hooks (none when the command runs without a compose file)."""
    from compose.orchestrator.hooks import project_hooks

    try:
        return project_hooks(ctx.obj.load_project(services=tuple(services or ())))
    except ComposeError:
        return {}


def each(cs: list[ContainerRef], verb: str, past: str, fn: Callable[[ContainerRef], None],
         progress: Progress) -> int:
    """Apply ``fn`` to every container with docker-style progress; 1 if any failed."""
    failed = False
    for c in cs:
        progress(c.name, verb)
        try:
            fn(c)
        except (ComposeError, Exception) as exc:  # report and go on with the others
            progress(c.name, f"Error: {exc}")
            failed = True
            continue
        progress(c.name, past)
    return 1 if failed else 0
