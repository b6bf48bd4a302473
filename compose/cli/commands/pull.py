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
        skip = _skip_reason(svc, ignore_buildable, todo)
        if skip is not None:
            _say(quiet, svc.name, skip)
        else:
            assert svc.image is not None
            todo[svc.image] = svc
    workers = len(todo) if ctx.obj.parallel <= 0 else min(len(todo), ctx.obj.parallel)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="pull") as pool:
        failed = [s for s, ok in zip(todo.values(), pool.map(lambda s: _pull_one(s, quiet),
                                                             todo.values()), strict=True)
                  if not ok]
    must_build = [s.name for s in failed if s.build is not None]
    if must_build:
        terminal.status("WARNING: Some service image(s) must be built from source by running:\n"
                        f"    docker compose build {' '.join(must_build)}")
    if failed and not ignore_failures:
        raise typer.Exit(1)


def _say(quiet: bool, name: str, text: str) -> None:
    """docker compose v2's plain progress line: `` SERVICE TEXT``, on stderr."""
    if not quiet:
        terminal.status(f" {name} {text}")


def _skip_reason(svc: Service, ignore_buildable: bool, todo: dict[str, Service]) -> str | None:
    """Why ``pull`` leaves the service's image alone (docker compose's wording), or None."""
    if not svc.image:
        return "Skipped - No image to be pulled"
    if not should_pull(svc):
        return ("Skipped - Image is already present locally"
                if svc.pull_policy in ("missing", "if_not_present") else "Skipped")
    if ignore_buildable and svc.build is not None:
        return "Skipped - Image can be built"
    if svc.image in todo:
        return f"Skipped - Image is already being pulled by {todo[svc.image].name}"
    return None


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


def _pull_one(svc: Service, quiet: bool) -> bool:
    """Pull one service's image; False when it failed (an image the service can build is
    only a warning, like docker compose says)."""
    from engine.errors import EngineError
    from engine.images import pull

    assert svc.image is not None
    _say(quiet, svc.name, "Pulling")
    try:
        pull(svc.image, progress=progress_printer(f" {svc.name}", quiet, stderr=True),
             platform=svc.platform)
    except EngineError as exc:
        _say(False, svc.name, f"{'Warning' if svc.build is not None else 'Error'} {exc}")
        return False
    _say(quiet, svc.name, "Pulled")
    return True
