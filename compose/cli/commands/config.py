"""``pycompose config``: validate and print the project in docker compose's canonical form."""

from __future__ import annotations

import typer

from compose.cli import terminal
from compose.cli.options import rejected

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Annotated
else:
    from compose.cli.options import Annotated  # (see there: typing stays unloaded)


def register(app: typer.Typer) -> None:
    """Add the ``config`` command to ``app``."""
    text = "Parse, resolve and render the compose file in canonical format."
    app.command("config", help=text)(config_command)


def config_command(
    ctx: typer.Context,
    services_args: Annotated[
        list[str] | None,
        typer.Argument(metavar="SERVICE...", help="Restrict the output to these services."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="Output format: yaml or json "
                          "(default yaml; a table for --variables).")
    ] = "",
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only validate.")] = False,
    lock_digests: Annotated[bool, rejected("--lock-image-digests", reason="images are not "
                                           "resolved against a registry by config")] = False,
    resolve_digests: Annotated[bool, rejected("--resolve-image-digests", reason="images are "
                                              "not resolved against a registry by config")
                               ] = False,
    models: Annotated[bool, rejected("--models", reason="models are not supported")] = False,
    no_consistency: Annotated[bool, rejected("--no-consistency", reason="the model is always "
                                             "checked")] = False,
    no_env_resolution: Annotated[bool, rejected("--no-env-resolution", reason="env files are "
                                                "always resolved")] = False,
    no_normalize: Annotated[bool, rejected("--no-normalize", reason="config prints the "
                                           "normalized model")] = False,
    no_path_resolution: Annotated[bool, rejected("--no-path-resolution", reason="paths are "
                                                 "always resolved")] = False,
    services: Annotated[bool, typer.Option("--services", help="Print the service names.")] = False,
    volumes: Annotated[bool, typer.Option("--volumes", help="Print the volume names.")] = False,
    networks: Annotated[bool, typer.Option("--networks", help="Print the network names.")] = False,
    profiles: Annotated[bool, typer.Option("--profiles", help="Print the profile names.")] = False,
    images: Annotated[bool, typer.Option("--images", help="Print the image names.")] = False,
    no_interpolate: Annotated[
        bool, typer.Option("--no-interpolate", help="Don't interpolate environment variables.")
    ] = False,
    hash_services: Annotated[
        str | None,
        typer.Option(
            "--hash",
            metavar="SERVICES",
            help="Print the config hash of these services ('*' for all, else comma separated).",
        ),
    ] = None,
    environment: Annotated[
        bool, typer.Option("--environment", help="Print the environment used for interpolation.")
    ] = False,
    variables: Annotated[
        bool, typer.Option("--variables", help="Print the model's variables and defaults.")
    ] = False,
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", metavar="PATH", help="Save to this file instead of stdout."),
    ] = None,
) -> None:
    """Print the normalized project (or one of its lists)."""
    from compose.config.canonical import render_project, render_sorted
    from compose.errors import ComposeError

    fmt_given = fmt
    fmt = fmt or "yaml"
    if fmt not in ("yaml", "json") and not (variables and fmt in ("table", "pretty")):
        raise typer.BadParameter("must be yaml or json", param_hint="--format")
    targets = tuple(services_args or ())
    whole_model = variables or no_interpolate
    if whole_model and targets and not (services or volumes or networks or hash_services
                                         is not None or profiles or images):
        flag = "--variables" if variables else "--no-interpolate"
        what = "variables from the full model" if variables else "the full model"
        terminal.warn(f"service filtering is not applied when {flag} is set, {what} will be "
                      "rendered")
        targets = ()
    if variables:
        no_interpolate = True
    hashed = tuple(h.strip() for h in (hash_services or "").split(",") if h.strip())
    # (the services a command uses: only their env files must exist, as in docker compose)
    used = targets or (hashed if "*" not in hashed else ())
    project = ctx.obj.load_project(services=used, interpolate=not no_interpolate)
    unknown = [s for s in targets if s not in project.services]
    if unknown:
        raise ComposeError(f"no such service: {unknown[0]}")
    if targets:
        project = _restrict(project, targets)
    if quiet:
        return
    text: str | None
    if services or volumes or networks:
        text = _listing(project, services, volumes, networks, False, False)
    elif hash_services is not None:  # docker compose's precedence among the listing flags
        text = _hashes(project, hash_services)
    elif profiles or images:
        text = _listing(project, False, False, False, profiles, images)
    elif variables:
        text = _variables(project, fmt_given)
    elif environment:
        text = "".join(f"{k}={v}\n" for k, v in project.environment.items())
    elif no_interpolate:  # the raw model: a map, so every key in order (like go-yaml)
        text = render_sorted(project, fmt)
    else:
        text = render_project(project, fmt).replace("$", "$$")  # stays a valid compose file
    text = text or ""
    if output:
        _save(output, text)
    else:
        terminal.write(text)


def _listing(
    project: object, services: bool, volumes: bool, networks: bool, profiles: bool, images: bool
) -> str | None:
    from compose.config.model import Project

    assert isinstance(project, Project)
    if services:
        names: list[str] = list(project.services)
    elif volumes:
        names = list(project.volumes)
    elif networks:
        names = list(project.networks)
    elif profiles:
        names = list(project.all_profiles)
    elif images:
        names = [s.image or f"{project.name}-{s.name}" for s in project.services.values()]
    else:
        return None
    return "".join(f"{n}\n" for n in names)


def _hashes(project: object, selection: str) -> str:
    """``service hash`` lines, the hash the orchestrator labels containers with."""
    from compose.config.model import Project
    from compose.errors import ComposeError
    from compose.orchestrator.labels import service_hash

    assert isinstance(project, Project)
    names = (
        list(project.services)
        if selection.strip() == "*"
        else [n.strip() for n in selection.split(",") if n.strip()]
    )
    missing = [n for n in names if n not in project.services]
    if missing:
        raise ComposeError(f"no such service: {missing[0]}")
    return "".join(f"{n} {service_hash(project, project.services[n])}\n"
                   for n in sorted(names))


def _variables(project: object, fmt: str) -> str:
    """The variables the files reference, with whether they are required and their defaults:
    a table, or (like docker compose) a JSON object with four-space indentation or YAML with
    lower-cased field names."""
    import json

    from compose.cli.terminal import table
    from compose.config.canonical import render_yaml
    from compose.config.interpolation import extract_variables
    from compose.config.model import Project

    assert isinstance(project, Project)
    found = extract_variables(project.raw)
    if fmt == "json":
        doc = {name: {"Name": name, "DefaultValue": default, "PresenceValue": alt,
                      "Required": req} for name, (req, default, alt) in found.items()}
        return json.dumps(doc, indent=4, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        ydoc = {name: {"name": name, "defaultvalue": default, "presencevalue": alt,
                       "required": req} for name, (req, default, alt) in found.items()}
        return render_yaml(ydoc, step=4)
    rows = [(name, str(req).lower(), default, alt)
            for name, (req, default, alt) in found.items()]
    return table(("NAME", "REQUIRED", "DEFAULT VALUE", "ALTERNATE VALUE"), rows)


def _restrict(project: object, targets: tuple[str, ...]) -> object:
    """Only the targeted services (and what they depend on), like ``config SERVICE``."""
    import dataclasses

    from compose.config.model import Project
    from compose.graph import build_graph

    assert isinstance(project, Project)
    keep = build_graph(project).with_dependencies(list(targets))
    raw = dict(project.raw)
    raw["services"] = {k: v for k, v in project.raw["services"].items() if k in keep}
    return dataclasses.replace(
        project, services={k: v for k, v in project.services.items() if k in keep}, raw=raw
    )


def _save(path: str, text: str) -> None:
    from compose.errors import ComposeError

    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise ComposeError(f"cannot write {path}: {exc.strerror}") from None
