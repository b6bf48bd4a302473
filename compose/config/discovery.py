"""Which compose files make up the project, where it lives and what it is called.

Mirrors docker compose: ``-f`` files (``-`` is stdin), else ``COMPOSE_FILE`` split on
``COMPOSE_PATH_SEPARATOR``, else the first of the default names found in the working directory
or a parent, plus the first matching override file next to it.
"""
from __future__ import annotations

import os
import re
from collections.abc import Mapping

from compose.errors import ConfigError
from engine.lazy import logger

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    StrPath = str | os.PathLike[str]

log = logger(__name__)  # (logging loads when a warning is logged)

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = (
    "compose.override.yaml", "compose.override.yml",
    "docker-compose.override.yaml", "docker-compose.override.yml",
)
STDIN = "-"
_INVALID_NAME_CHARS = re.compile(r"[^a-z0-9_-]")
_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def discover_files(
    files: list[str], env: Mapping[str, str], working_dir: StrPath, search: StrPath | None = None
) -> list[str]:
    """Return the compose files to load, as absolute paths (``-`` kept for stdin). ``-f`` and
    ``COMPOSE_FILE`` paths are relative to ``working_dir``; default files are searched from
    ``search`` (the project directory when given; default ``working_dir``) upwards."""
    if files:
        return [f if f == STDIN else absolute(f, working_dir) for f in files]
    from_env = env.get("COMPOSE_FILE")
    if from_env:
        separator = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        return [absolute(f, working_dir) for f in from_env.split(separator) if f]
    return find_default_files(search or working_dir)


def find_default_files(start: StrPath) -> list[str]:
    """The default compose file in ``start`` or its nearest parent, plus its override file."""
    start = os.path.normpath(start)
    for directory in _self_and_parents(start):
        found = _first_existing(directory, DEFAULT_FILES)
        if found is None:
            continue
        if sum(os.path.isfile(os.path.join(directory, n)) for n in DEFAULT_FILES) > 1:
            log.warning("Found multiple config files with supported names in %s; using %s",
                        directory, os.path.basename(found))
        override = _first_existing(directory, OVERRIDE_FILES)
        return [found] + ([override] if override is not None else [])
    raise ConfigError(
        f"no configuration file provided: not found (looked for {', '.join(DEFAULT_FILES)} in "
        f"{start} and its parents)"
    )


def _self_and_parents(directory: str) -> list[str]:
    """``directory`` (normalized) and its parents up to the root (``.`` for a relative one)."""
    out = [directory]
    while True:
        parent = os.path.dirname(out[-1]) or "."
        if parent == out[-1]:
            return out
        out.append(parent)


def _first_existing(directory: str, names: tuple[str, ...]) -> str | None:
    for name in names:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def absolute(path: str, base: StrPath) -> str:
    """``path`` (``~`` expanded) made absolute against ``base``, lexically normalized."""
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def project_directory(explicit: str | None, files: list[str], working_dir: StrPath) -> str:
    """``--project-directory``, else the directory of the first file (cwd for stdin); a
    normalized path."""
    if explicit:
        return absolute(explicit, working_dir)
    first = files[0] if files else STDIN
    if first == STDIN:
        return os.path.normpath(working_dir)
    return os.path.dirname(os.path.normpath(first))


def normalize_project_name(name: str) -> str:
    """Lowercase and drop characters docker compose does not allow (``[a-z0-9_-]``)."""
    return _INVALID_NAME_CHARS.sub("", name.lower()).lstrip("_-")


def resolve_project_name(
    explicit: str | None,
    env: Mapping[str, str],
    top_level_name: str | None,
    project_dir: StrPath,
) -> str:
    """Project name by precedence: ``-p``, ``COMPOSE_PROJECT_NAME``, ``name:``, directory."""
    if explicit:
        if not _VALID_NAME.match(explicit):
            raise ConfigError(
                f"invalid project name {explicit!r}: it must contain only lowercase letters, "
                "digits, dashes and underscores, and start with a letter or digit"
            )
        return explicit
    for candidate in (env.get("COMPOSE_PROJECT_NAME"), top_level_name):
        if candidate:
            return _checked(normalize_project_name(candidate), candidate)
    directory = os.path.basename(os.path.normpath(project_dir))
    return _checked(normalize_project_name(directory), directory)


def _checked(name: str, original: str) -> str:
    if not name:
        raise ConfigError(
            f"project name {original!r} has no usable characters; set one with -p or a "
            "top-level 'name:'"
        )
    return name
