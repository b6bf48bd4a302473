"""``pycompose watch``: build and start the services (unless --no-up), then keep them in step
with their ``develop.watch`` paths until Ctrl-C. ``up --watch`` uses :func:`start_watch`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._orch import Progress, backend

if TYPE_CHECKING:
    from compose.cli.commands._watchrun import Watcher
    from compose.config.model import Project
    from compose.orchestrator.backend import Backend


def register(app: typer.Typer) -> None:
    """Add the ``watch`` command to ``app``."""
    app.command("watch", help="Watch build context for service and rebuild/refresh "
                "containers when files are updated.")(watch_command)


def watch_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    no_up: Annotated[bool, typer.Option("--no-up", help="Do not build & start services "
                                        "before watching.")] = False,
    prune: Annotated[bool, typer.Option("--prune/--no-prune", help="Prune dangling images "
                                        "on rebuild.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", help="Hide build output.")] = False,
) -> int:
    """Watch until interrupted; exit code 0 on Ctrl-C like docker compose."""
    from compose.cli.commands._watchrun import watch_rules

    targets = tuple(services or ())
    project = ctx.obj.load_project(services=targets)
    watch_rules(project, targets)  # fail before starting anything
    be = backend()
    progress = Progress("quiet" if quiet else ctx.obj.progress)
    if not no_up:
        _up(project, be, progress, targets, build=False)
    watcher = start_watch(project, be, progress, targets, prune=prune)
    try:
        watcher.wait()
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
    return 0


def start_watch(project: Project, be: Backend, progress: Progress, services: tuple[str, ...],
                *, prune: bool = True) -> Watcher:
    """Start watching the services' ``develop.watch`` paths in the background."""
    from compose.cli.commands._watchrun import Watcher, watch_rules

    def rebuild(service: str) -> None:
        _up(project, be, progress, (service,), build=True)
        if prune:
            from engine.images import prune as prune_images

            prune_images(all_unused=False)
        terminal.line(f"service {service!r} successfully built")

    watcher = Watcher(project, be, watch_rules(project, services), rebuild)
    watcher.start()
    return watcher


def _up(project: Project, be: Backend, progress: Progress, services: tuple[str, ...], *,
        build: bool) -> None:
    from compose.errors import ComposeError
    from compose.orchestrator.up import Up, UpOptions

    result = Up(project, be, UpOptions(services=services, no_deps=build, build=build),
                progress).run()
    failures = result.failures()
    if failures:
        raise ComposeError("; ".join(failures))
