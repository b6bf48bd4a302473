"""``include``: pull other compose applications (their services, networks, volumes, secrets
and configs) into this one. Each included application is loaded on its own — relative paths
against its own project directory, interpolated with its own ``.env`` — and may not redefine a
resource the including file already has."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from compose.config.interpolation import config_error_at
from compose.config.positions import PositionMap
from compose.errors import ConfigError

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    SubLoader = Callable[["IncludeSpec", tuple[str, ...]], tuple[dict[str, Any], PositionMap]]

RESOURCES = ("services", "networks", "volumes", "secrets", "configs")


@dataclass(frozen=True, slots=True)
class IncludeSpec:
    """One ``include`` entry in long form, paths absolute."""

    paths: tuple[str, ...]
    project_directory: str
    env_files: tuple[str, ...]


# (spec, chain of including files) -> merged document of the included application


def parse_includes(doc: dict[str, Any], filename: str, positions: PositionMap,
                   base: str) -> list[IncludeSpec]:
    """The ``include`` entries of ``doc`` in long form (paths relative to ``base``)."""
    specs: list[IncludeSpec] = []
    for i, entry in enumerate(doc.get("include") or []):
        spec = {"path": entry} if isinstance(entry, str) else entry
        paths = spec.get("path") if isinstance(spec, dict) else None
        if isinstance(paths, str):
            paths = [paths]
        if not paths or not all(isinstance(p, str) for p in paths):
            raise config_error_at("include entry needs a 'path' (a file or a list of files)",
                                  filename, positions, ("include", i))
        abs_paths = tuple(os.path.normpath(os.path.join(base, p)) for p in paths)
        project_dir = spec.get("project_directory")
        project_dir = (os.path.normpath(os.path.join(base, project_dir)) if project_dir
                       else os.path.dirname(abs_paths[0]))
        env_files = spec.get("env_file") or []
        env_files = [env_files] if isinstance(env_files, str) else env_files
        specs.append(IncludeSpec(abs_paths, project_dir,
                                 tuple(os.path.normpath(os.path.join(base, e))
                                       for e in env_files)))
    return specs


def resolve_includes(
    doc: dict[str, Any], filename: str, positions: PositionMap, base: str,
    load: SubLoader, chain: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Return ``doc`` without ``include`` and with the included resources added (the loader
    calls it for a file that has ``include``)."""
    out = {k: v for k, v in doc.items() if k != "include"}
    for index, spec in enumerate(parse_includes(doc, filename, positions, base)):
        for path in spec.paths:
            if path in chain or path == filename:
                cycle = " -> ".join((*chain, filename, path))
                raise config_error_at(f"include cycle: {cycle}", filename, positions,
                                      ("include", index))
        try:
            included, included_positions = load(spec, (*chain, filename))
        except ConfigError as exc:
            if exc.line is not None:
                raise
            # an included file that cannot be read: point at the include entry
            raise config_error_at(exc.message, filename, positions, ("include", index)) from None
        _add_resources(out, included, filename, positions, index)
        for key_path, pos in included_positions.items():  # the including file's keys win
            positions.setdefault(key_path, pos)
    return out


def _add_resources(out: dict[str, Any], included: dict[str, Any], filename: str,
                   positions: PositionMap, index: int) -> None:
    for section in RESOURCES:
        incoming = included.get(section) or {}
        if not incoming:
            continue
        current = dict(out.get(section) or {})
        for key, value in incoming.items():
            if key in current and current[key] != value:
                raise config_error_at(
                    f"{section}.{key} is defined both here and in an included application "
                    f"(include[{index}]) with a different definition; rename one of them",
                    filename, positions, (section, key))
            current[key] = value
        out[section] = current

