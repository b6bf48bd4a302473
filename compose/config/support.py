"""Find, while loading, the keys and values pycompose does not implement (see
:mod:`compose.config.support_table`), each located at its file and line.

The loader records them on the project instead of failing, so that ``config``, ``ps`` or
``down`` still work on such a file; the commands that create or build containers call
:func:`require_supported` first, which raises the first one as a ConfigError.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from compose.config.positions import KeyPath, PositionMap, find_position, format_key_path
from compose.config.support_table import NO_EFFECT, REJECTED, VALUE_RULES
from compose.errors import ConfigError
from engine.lazy import logger

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

log = logger(__name__)  # (logging loads when a warning is logged)


@dataclass(frozen=True, slots=True)
class Unsupported:
    """One use of something pycompose does not implement (or that has no effect here)."""

    service: str | None  # None: a top-level resource
    key_path: str
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    no_effect: bool = False  # accepted, only warned about

    def error(self) -> ConfigError:
        """The ConfigError ``up`` raises for it."""
        return ConfigError(self.message, file=self.file, line=self.line, column=self.column,
                           key_path=self.key_path)


def find_unsupported(data: Mapping[str, Any], positions: PositionMap) -> tuple[Unsupported, ...]:
    """Every rejected or no-effect key and every refused value in the canonical project."""
    found: list[Unsupported] = []
    for pattern, reason in REJECTED.items():
        for path in match_paths(data, _split(pattern)):
            found.append(_entry(path, f"{_what(path)} is not supported by pycompose ({reason})",
                                positions))
    for pattern, reason in NO_EFFECT.items():
        for path in match_paths(data, _split(pattern)):
            found.append(_entry(path, f"{_what(path)} has no effect: {reason}", positions, True))
    for rule in VALUE_RULES:
        for path in match_paths(data, _split(rule.path)):
            for sub, value in _values(_get(data, path), path):
                if not _allowed(value, rule.allowed, rule.prefix_ok):
                    found.append(_entry(sub, f"{_what(sub)}: {value!r} is not supported by "
                                        f"pycompose ({rule.reason}; supported: "
                                        f"{', '.join(rule.allowed + rule.prefix_ok)})",
                                        positions))
    return tuple(sorted(found, key=lambda u: (u.file or "", u.line or 0, u.column or 0)))


def require_supported(unsupported: Iterable[Unsupported], services: Iterable[str],
                      section: str | None = None) -> None:
    """Raise the first rejection that concerns ``services`` (or the top level); warn about the
    keys that have no effect. ``section`` (e.g. ``build``) limits it to that service key."""
    wanted = set(services)
    for item in unsupported:
        if item.service is not None and item.service not in wanted:
            continue
        if section is not None and not (item.service is not None and item.key_path.startswith(
                f"services.{item.service}.{section}")):
            continue
        if item.no_effect:
            log.warning("%s: %s", _where(item), item.message)
        else:
            raise item.error()


def _where(item: Unsupported) -> str:
    parts = [str(p) for p in (item.file, item.line, item.column) if p is not None]
    return ":".join(parts) or item.key_path


def _split(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.split("."))


def match_paths(data: Any, pattern: tuple[str, ...], prefix: KeyPath = ()) -> Iterator[KeyPath]:
    """The concrete key paths in ``data`` matching ``pattern`` (``*`` any mapping key but
    ``x-*``, ``[]`` any list index)."""
    if not pattern:
        yield prefix
        return
    head, rest = pattern[0], pattern[1:]
    if head == "[]":
        if isinstance(data, list):
            for index, item in enumerate(data):
                yield from match_paths(item, rest, prefix + (index,))
    elif isinstance(data, dict):
        keys = [k for k in data if not str(k).startswith("x-")] if head == "*" else (
            [head] if head in data else [])
        for key in keys:
            yield from match_paths(data[key], rest, prefix + (key,))


def _get(data: Any, path: KeyPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _values(value: Any, path: KeyPath) -> Iterator[tuple[KeyPath, str]]:
    """The string values to check: the value itself, or each item of a list."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield path + (index,), item
    elif isinstance(value, str) and "$" not in value:
        yield path, value
    elif isinstance(value, bool):
        yield path, "true" if value else "false"


def _allowed(value: str, allowed: tuple[str, ...], prefixes: tuple[str, ...]) -> bool:
    return "$" in value or value in allowed or (bool(prefixes) and value.startswith(prefixes))


def _what(path: KeyPath) -> str:
    if len(path) >= 3 and path[0] == "services":
        return f"service {path[1]!r}: {format_key_path(path[2:])}"
    return format_key_path(path)


def _entry(path: KeyPath, message: str, positions: PositionMap,
           no_effect: bool = False) -> Unsupported:
    pos = find_position(positions, path)
    service = str(path[1]) if len(path) > 1 and path[0] == "services" else None
    return Unsupported(service, format_key_path(path), message,
                       pos.file if pos else None, pos.line if pos else None,
                       pos.column if pos else None, no_effect)


def markdown() -> str:
    """The README's "Not supported" section, generated from the tables."""
    lines = ["| key | why |", "|---|---|"]
    lines += [f"| `{path}` | {reason} |" for path, reason in sorted(REJECTED.items())]
    lines += ["", "Values refused for keys that are otherwise supported:", "",
              "| key | supported values |", "|---|---|"]
    for rule in VALUE_RULES:
        values = ", ".join(f"`{v}`" for v in rule.allowed) + "".join(
            f", `{p}…`" for p in rule.prefix_ok)
        lines.append(f"| `{rule.path}` | {values} |")
    lines += ["", "Accepted with a warning, without effect (as in docker compose without a "
              "swarm):", "", "| key | why |", "|---|---|"]
    lines += [f"| `{path}` | {reason} |" for path, reason in sorted(NO_EFFECT.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
