"""``pycompose build``: build the services that have a ``build:`` section."""
from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal
from compose.cli.commands._imageutil import progress_printer, select_services
from compose.cli.options import rejected

if TYPE_CHECKING:
    from engine.images import BuildSpec


def register(app: typer.Typer) -> None:
    """Add the ``build`` command to ``app``."""
    app.command("build", help="Build or rebuild services.")(build_command)


def build_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Do not use the cache.")] = False,
    pull: Annotated[bool, typer.Option("--pull", help="Always pull base images.")] = False,
    build_arg: Annotated[list[str] | None, typer.Option("--build-arg", metavar="KEY=VAL")]
    = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    with_dependencies: Annotated[bool, typer.Option("--with-dependencies", help="Also build "
                                                    "dependencies (transitively).")] = False,
    builder: Annotated[str | None, rejected("--builder", reason="pycompose has one built-in "
                                            "builder", takes_value=True)] = None,
    check: Annotated[bool, rejected("--check", reason="no build checks")] = False,
    memory: Annotated[str | None, rejected("-m", "--memory", reason="build steps are not "
                                           "memory-limited", takes_value=True)] = None,
    print_: Annotated[bool, rejected("--print", reason="no bake file")] = False,
    provenance: Annotated[str | None, rejected("--provenance", reason="no attestations",
                                               takes_value=True)] = None,
    push: Annotated[bool, typer.Option("--push", help="Push the services' images once "
                                       "built (unnamed ones are skipped).")] = False,
    sbom: Annotated[str | None, rejected("--sbom", reason="no attestations",
                                         takes_value=True)] = None,
    ssh: Annotated[str | None, rejected("--ssh", reason="no SSH agent forwarding in builds",
                                        takes_value=True)] = None,
) -> None:
    """Build images for services, concurrently up to --parallel (each one's layers are
    cached; services sharing an image name build it once, like compose)."""
    from compose.orchestrator.imagespec import build_spec, image_name
    from compose.orchestrator.prepare import image_waves, with_build_inputs
    from engine.images import build

    project = ctx.obj.load_project(services=tuple(services or ()))
    if with_dependencies and services:
        from compose.orchestrator.project import with_dependencies as closure

        services = list(closure(project, services))
    extra = build_args(build_arg or (), project.environment)
    todo: dict[str, BuildSpec] = {}
    names: dict[str, str] = {}
    selected = [s.name for s in select_services(project, services)]
    for svc in (project.services[n] for n in with_build_inputs(project, selected)):
        if svc.build is None or image_name(project, svc) in todo:
            continue
        project.require_supported([svc.name], section="build")
        todo[image_name(project, svc)] = build_spec(project, svc, no_cache=no_cache, pull=pull,
                                                    extra_args=extra)
        names[image_name(project, svc)] = svc.name

    building: dict[int, str] = {}  # thread -> the service it builds (for RUN output)
    if not quiet and not ctx.obj.verbose:  # (with -v, the log shows it already)
        _show_run_output(building)

    def one(image: str) -> None:
        spec, name = todo[image], names[image]
        building[threading.get_ident()] = name
        if not quiet:
            terminal.line(f"{name} Building")
        img = build(spec, progress=progress_printer(f" {name}", quiet))
        if not quiet:
            terminal.line(f"{name} Built {img.short_id} ({', '.join(spec.tags)})")

    limit = ctx.obj.parallel
    groups = {image: [names[image]] for image in todo}
    for wave in image_waves(project, groups):  # a build using another's image comes after it
        images = [image_name(project, project.services[group[0]]) for group in wave]
        workers = len(images) if limit <= 0 else min(len(images), limit)
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="build") as pool:
            for future in [pool.submit(one, image) for image in images]:
                future.result()  # the first failure is raised, after the others finished
    if push:
        from compose.cli.commands.push import push_images

        pushed = [n for n in selected if project.services[n].build is not None]
        if pushed and push_images(project, pushed, quiet=quiet, ignore_failures=False):
            raise typer.Exit(1)


def _show_run_output(building: dict[int, str]) -> None:
    """Print what RUN steps write, ``service | Dockerfile:LINE: text``, as docker compose's
    plain build output shows it (the builder logs it at INFO, below what is shown)."""
    import logging

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            name = building.get(record.thread or 0, "")
            terminal.line(f"{name} | {record.getMessage()}" if name else record.getMessage())

    runlog = logging.getLogger("engine.images.builder.runstep")
    if not any(h.get_name() == "run-output" for h in runlog.handlers):
        handler = Lines(logging.INFO)
        handler.set_name("run-output")
        runlog.addHandler(handler)
    runlog.setLevel(logging.INFO)
    runlog.propagate = False


def build_args(given: Iterable[str], environment: Mapping[str, str]) -> dict[str, str]:
    """``--build-arg K=V`` values; a bare ``K`` takes the project environment's value (the
    shell's over ``.env``) and is left out when that has none, as in docker compose."""
    out: dict[str, str] = {}
    for arg in given:
        key, eq, value = arg.partition("=")
        if eq:
            out[key] = value
        elif key in environment:
            out[key] = environment[key]
    return out

