"""``pycompose pull``: pull the images of the project's services."""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._imageutil import progress_printer, select_services

if TYPE_CHECKING:
    from compose.config.model import Service


def register(app: typer.Typer) -> None:
    """Add the ``pull`` command to ``app``."""
    app.command("pull", help="Pull service images.")(pull_command)


def pull_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    ignore_failures: Annotated[bool, typer.Option("--ignore-pull-failures",
                                                  help="Pull what it can.")] = False,
    ignore_buildable: Annotated[bool, typer.Option("--ignore-buildable",
                                                   help="Skip services that build.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    include_deps: Annotated[bool, typer.Option("--include-deps", help="Also pull the "
                                               "services declared as dependencies.")] = False,
    policy: Annotated[str, typer.Option("--policy", metavar="POLICY", help="Apply pull "
                                        "policy (missing or always) instead of each "
                                        "service's pull_policy.")] = "",
) -> None:
    """Pull the services' images, concurrently (bounded by --parallel), each image once."""
    if policy not in ("", "missing", "always"):
        raise typer.BadParameter("must be missing or always", param_hint="--policy")
    project = ctx.obj.load_project(services=tuple(services or ()))
    if include_deps and services:
        from compose.orchestrator.project import with_dependencies

        services = list(with_dependencies(project, services))
    todo: dict[str, Service] = {}
    for svc in select_services(project, services):
        svc = dataclasses.replace(svc, pull_policy=policy) if policy else svc
        if not svc.image or (ignore_buildable and svc.build is not None):
            continue
        if should_pull(svc) and svc.image not in todo:
            todo[svc.image] = svc
    workers = len(todo) if ctx.obj.parallel <= 0 else min(len(todo), ctx.obj.parallel)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="pull") as pool:
        results = list(pool.map(lambda s: _pull_one(s, quiet, ignore_failures), todo.values()))
    failed = [name for name in results if name]
    if failed:
        raise typer.Exit(1)


def should_pull(svc: Service) -> bool:
    """docker compose's rule for an explicit pull: no pull_policy → always; missing /
    if_not_present → when absent (or a ``latest`` tag); never / build → no; refresh windows
    (daily, weekly, every_N) are due now."""
    from engine.images import exists

    policy = svc.pull_policy
    if policy in ("never", "build"):
        return False
    if policy in ("missing", "if_not_present") and svc.image:
        latest = ":" not in svc.image.rsplit("/", 1)[-1] or svc.image.endswith(":latest")
        return latest or not exists(svc.image)
    return True


def _pull_one(svc: Service, quiet: bool, ignore_failures: bool) -> str | None:
    """Pull one service's image; its name when the pull failed for good."""
    from engine.errors import EngineError
    from engine.images import pull

    assert svc.image is not None
    if not quiet:
        terminal.line(f"{svc.name} Pulling")
    try:
        pull(svc.image, progress=progress_printer(f" {svc.name}", quiet),
             platform=svc.platform)
    except EngineError as exc:
        # An image that can be built may legitimately be absent from registries.
        if svc.build is not None or ignore_failures:
            terminal.warn(f"{svc.name}: {exc}")
            return None
        terminal.error(f"{svc.name}: {exc}")
        return svc.name
    if not quiet:
        terminal.line(f"{svc.name} Pulled")
    return None
