"""Compose Specification loader: compose files in, a frozen ``Project`` out.

:func:`load` reads like the table of contents of the pipeline: discover the files, read each
(YAML → interpolation → schema → include → extends), merge them, pick the profiles' services,
run the semantic checks, normalize to canonical long syntax and build the frozen model.
Pure: no root, no engine, no subprocess.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from compose.config.discovery import (
    STDIN,
    absolute,
    discover_files,
    project_directory,
    resolve_project_name,
)
from compose.config.environment import project_environment
from compose.config.model import Project
from compose.config.positions import Position, PositionMap
from compose.errors import ConfigError
from engine.lazy import logger

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import IO, Any

    from compose.config.include import IncludeSpec
    from compose.config.profiles import ProfileSelection

log = logger(__name__)  # (logging loads when a warning is logged)


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What the command line (or a test) asks the loader for."""

    files: tuple[str, ...] = ()
    project_name: str | None = None
    project_directory: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # services targeted on the command line
    working_dir: str | None = None  # default: the process's cwd
    environ: Mapping[str, str] | None = None  # default: the process environment
    interpolate: bool = True
    stdin: IO[str] | None = field(default=None, compare=False)


@dataclass(slots=True)
class _Context:
    """Resolved inputs shared by the pipeline steps."""

    options: LoadOptions
    cwd: str
    os_env: Mapping[str, str]
    env: dict[str, str]
    files: list[str]
    project_dir: str
    # Parsed YAML per file (the project name is read before the files are interpolated, and
    # stdin can be read only once).
    parsed: dict[str, tuple[list[tuple[Any, PositionMap]], str]] = field(default_factory=dict)


def load(options: LoadOptions | None = None) -> Project:
    """Load, validate and normalize a compose project; raises ConfigError on any mistake."""
    try:
        return _load(options or LoadOptions())
    except RecursionError:
        # Every step walks the data recursively; absurd nesting is a user error, not a crash.
        raise ConfigError(_TOO_DEEP) from None


_TOO_DEEP = "the compose file nests too deeply to be processed"


def _load(options: LoadOptions) -> Project:
    ctx = _prepare(options)
    # compose-go puts the project name into the interpolation environment (it wins over an
    # inherited COMPOSE_PROJECT_NAME, which could only have chosen that same name).
    declared, where = _declared_name(ctx)
    try:
        name = resolve_project_name(ctx.options.project_name, ctx.env, declared,
                                    ctx.project_dir)
    except ConfigError as exc:
        if where is not None and exc.line is None:  # a bad top-level name: point at it
            exc.file, exc.line, exc.column, exc.key_path = (where.file, where.line,
                                                            where.column, "name")
        raise
    ctx.env = {**ctx.env, "COMPOSE_PROJECT_NAME": name}
    merged, positions = _load_application(ctx.files, ctx.env, ctx, ())
    selection = _select_profiles(merged, ctx, positions)
    _check_semantics(selection.data, positions)
    canonical = _normalize(selection.data, name, ctx, positions)
    project = _build(canonical, ctx, selection, positions)
    _check_graph(project, positions)
    return project


def _prepare(options: LoadOptions) -> _Context:
    cwd = os.path.normpath(options.working_dir or os.getcwd())
    os_env = dict(os.environ if options.environ is None else options.environ)
    names = list(options.env_files) or [
        f for f in os_env.get("COMPOSE_ENV_FILES", "").split(",") if f.strip()]
    env_files = [os.path.join(cwd, f.strip()) for f in names]
    use_dotenv = not env_files and not _truthy(os_env.get("COMPOSE_DISABLE_ENV_FILE"))
    # Like docker compose: the first .env is the one of --project-directory, else of the first
    # -f file's directory, else of the working directory; it may set COMPOSE_FILE. Default
    # files are searched from --project-directory (else the working directory) upwards.
    first_dir = os.path.normpath(os.path.join(cwd, options.project_directory or "."))
    if not options.project_directory and options.files and options.files[0] != STDIN:
        first_dir = os.path.dirname(absolute(options.files[0], cwd))
    env = project_environment(os_env, env_files, first_dir, use_dotenv)
    search = os.path.join(cwd, options.project_directory) if options.project_directory else cwd
    files = discover_files(list(options.files), env, cwd, search)
    project_dir = project_directory(options.project_directory, files, cwd)
    if project_dir != first_dir and use_dotenv:
        # then the project directory's .env, under what the first one set (docker compose
        # reads both; the first read wins, the process environment wins over both)
        second = project_environment(env, [], project_dir)
        env = {**second, **env}
    return _Context(options, cwd, os_env, env, files, project_dir)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _declared_name(ctx: _Context) -> tuple[str | None, Position | None]:
    """The top-level ``name:`` of the project's files (the last one set), interpolated, and
    where it is; only read when neither ``-p`` nor COMPOSE_PROJECT_NAME decides."""
    if ctx.options.project_name or ctx.env.get("COMPOSE_PROJECT_NAME"):
        return None, None
    from compose.config.interpolation import InterpolationError, substitute

    found, where = None, None
    for path in ctx.files:
        for data, positions in _parse(path, ctx)[0]:
            value = data.get("name") if isinstance(data, dict) else None
            if isinstance(value, str) and value:
                found, where = value, positions.get(("name",))
    if found is None or not ctx.options.interpolate:
        return found, where
    try:
        return substitute(found, ctx.env.get), where
    except InterpolationError:
        return None, None  # reported, located, when the file itself is interpolated


def _parse(path: str, ctx: _Context) -> tuple[list[tuple[Any, PositionMap]], str]:
    """The YAML documents of one file (parsed once per load) and the name to report."""
    cached = ctx.parsed.get(path)
    if cached is None:
        from compose.config.yamlload import load_yaml_documents

        text, display = _read_text(path, ctx)
        try:
            cached = ([(d, p) for d, p in load_yaml_documents(text, display) if d is not None],
                      display)
        except RecursionError:
            raise ConfigError(_TOO_DEEP, file=display) from None
        ctx.parsed[path] = cached
    return cached


def _read_document(path: str, env: Mapping[str, str],
                   ctx: _Context) -> tuple[dict[str, Any], PositionMap]:
    """One file: YAML with positions → interpolation → schema validation. A file holding
    several YAML documents is read like several files, merged in order (as compose does)."""
    from compose.config.merge import merge_documents

    documents, display = _parse(path, ctx)
    try:
        if not documents:
            raise ConfigError("empty compose file: define at least one service", file=display,
                              line=1)
        merged: dict[str, Any] = {}
        positions: PositionMap = {}
        for data, doc_positions in documents:
            checked = _check_document(data, doc_positions, display, env, ctx)
            merged = checked if len(documents) == 1 else merge_documents(merged, checked)
            positions.update(doc_positions)
    except RecursionError:
        raise ConfigError(_TOO_DEEP, file=display) from None
    return merged, positions


def _check_document(data: Any, positions: PositionMap, display: str, env: Mapping[str, str],
                    ctx: _Context) -> dict[str, Any]:
    from compose.config.interpolation import interpolate_data
    from compose.config.validation import validate_schema

    if ctx.options.interpolate and isinstance(data, dict):
        data = interpolate_data(data, env, display, positions)
    validate_schema(data, display, positions)
    if "version" in data:
        log.warning("%s: the attribute `version` is obsolete, it will be ignored", display)
        data = {k: v for k, v in data.items() if k != "version"}
    return dict(data)


def _read_text(path: str, ctx: _Context) -> tuple[str, str]:
    if path == STDIN:
        stream = ctx.options.stdin or sys.stdin
        return stream.read(), "<stdin>"
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except FileNotFoundError:
        raise ConfigError(f"compose file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read compose file {path}: {exc}") from None


def _load_application(files: list[str], env: Mapping[str, str], ctx: _Context,
                      chain: tuple[str, ...]) -> tuple[dict[str, Any], PositionMap]:
    """Read, include, extend and merge a list of files into one mapping (the include and
    extends modules load for the files that use them)."""
    from compose.config.merge import merge_documents

    def read(path: str) -> tuple[dict[str, Any], PositionMap]:
        return _read_document(path, env, ctx)

    def load_included(spec: IncludeSpec, sub_chain: tuple[str, ...]
                      ) -> tuple[dict[str, Any], PositionMap]:
        return _load_included(spec, ctx, sub_chain, env)

    merged: dict[str, Any] = {}
    positions: PositionMap = {}
    for path in files:
        doc, doc_positions = read(path)
        base = ctx.project_dir if not chain else os.path.dirname(path)
        if "include" in doc:
            from compose.config.include import resolve_includes

            doc = resolve_includes(doc, path, doc_positions, base, load_included, chain)
        services = doc.get("services")
        if isinstance(services, dict) and any(isinstance(s, dict) and "extends" in s
                                              for s in services.values()):
            from compose.config.extends import resolve_extends

            doc = resolve_extends(doc, doc_positions, path, read)
        merged = merge_documents(merged, doc)
        positions.update(doc_positions)
    return merged, positions


def _load_included(spec: IncludeSpec, ctx: _Context, chain: tuple[str, ...],
                   parent_env: Mapping[str, str]) -> tuple[dict[str, Any], PositionMap]:
    """An included application: its own .env / env_file (adding to the including project's
    environment, which wins), paths made absolute against its project directory; with the
    positions of its keys (so that later checks name the included file's lines)."""
    from compose.config.paths import rebase_document

    project_dir = spec.project_directory
    own = project_environment(ctx.os_env, spec.env_files, project_dir)
    env = {**own, **parent_env}
    merged, positions = _load_application(list(spec.paths), env, ctx, chain)
    return rebase_document(merged, project_dir), positions


def _select_profiles(
    merged: dict[str, Any], ctx: _Context, positions: PositionMap
) -> ProfileSelection:
    from compose.config.profiles import active_profiles, select_services

    active = active_profiles(ctx.options.profiles, ctx.env)
    return select_services(merged, active, ctx.options.services, positions)


def _check_semantics(data: dict[str, Any], positions: PositionMap) -> None:
    from compose.config.semantics import check_semantics

    check_semantics(data, positions)


def _normalize(data: dict[str, Any], name: str, ctx: _Context,
               positions: PositionMap) -> dict[str, Any]:
    from compose.config.normalize import normalize_project

    return normalize_project(data, name, ctx.project_dir, ctx.env, positions,
                             strict=ctx.options.interpolate,
                             targets=tuple(t for t in ctx.options.services if t != "*"))


def _check_graph(project: Project, positions: PositionMap) -> None:
    """A dependency cycle makes the project unusable: report it while loading, located."""
    from compose.config.positions import find_position
    from compose.errors import GraphError
    from compose.graph import build_graph

    try:
        build_graph(project)
    except GraphError as exc:
        pos = find_position(positions, tuple((exc.key_path or "").split(".")))
        if pos is not None and exc.file is None:
            exc.file, exc.line, exc.column = pos.file, pos.line, pos.column
        raise


def _build(canonical: dict[str, Any], ctx: _Context, selection: ProfileSelection,
           positions: PositionMap) -> Project:
    from compose.config.assembly import build_project
    from compose.config.support import find_unsupported

    return build_project(
        canonical,
        lenient=not ctx.options.interpolate,
        working_dir=ctx.project_dir,
        environment=ctx.env,
        profiles=selection.active,
        all_profiles=selection.all_profiles,
        disabled_services=selection.disabled,
        compose_files=tuple(ctx.files),
        unsupported=find_unsupported(canonical, positions),
    )


__all__ = ["LoadOptions", "Project", "load"]
