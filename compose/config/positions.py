"""Where each key and item of a compose file came from (file, line, column).

The YAML loader records a :class:`Position` for every mapping key and sequence item, keyed by its
*key path* (a tuple of mapping keys and sequence indexes from the document root). Errors found
later (schema, semantics, interpolation) look the path up to name the exact line.
"""
from __future__ import annotations

from dataclasses import dataclass

from compose.errors import ConfigError

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    """A 1-based line and column in a named file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


PositionMap = dict[KeyPath, Position]


def format_key_path(path: KeyPath) -> str:
    """Render a key path the way users read it: ``services.web.ports[0]``.

    Mapping keys are joined with dots and sequence indexes are written in brackets; keys that
    would be unreadable bare (empty, with spaces, brackets or control characters) are written
    as ``["my key"]``. The empty path (the document root) renders as an empty string.
    """
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _needs_quotes(part):
            import json  # (a rare key: ~1 ms to load)

            out.append(f"[{json.dumps(part, ensure_ascii=False)}]")
        elif out:
            out.append(f".{part}")
        else:
            out.append(str(part))
    return "".join(out)


def _needs_quotes(key: str) -> bool:
    """Keys that would be unreadable or ambiguous bare (empty, spaces, brackets, controls)."""
    return not key or any(c.isspace() or c in '[]"' or not c.isprintable() for c in key)


def find_position(positions: PositionMap, path: KeyPath) -> Position | None:
    """Return the position of ``path``, or of its closest recorded ancestor.

    Values produced by merging or normalization may have no position of their own; the nearest
    ancestor is still a useful place to point the user at.
    """
    for end in range(len(path), -1, -1):
        pos = positions.get(path[:end])
        if pos is not None:
            return pos
    return None


def rebase_positions(positions: PositionMap, prefix: KeyPath) -> PositionMap:
    """Return a copy of ``positions`` with every key path prefixed by ``prefix``."""
    return {prefix + path: pos for path, pos in positions.items()}


def error_at(problem: str, path: KeyPath, positions: PositionMap,
             filename: str | None = None) -> ConfigError:
    """Build a ConfigError ``"<key path>: <problem>"`` located at ``path`` (or its nearest parent).

    ``filename`` is only used when no position at all is known for the path.
    """
    pos = find_position(positions, path)
    key_path = format_key_path(path)
    message = f"{key_path}: {problem}" if key_path else problem
    return ConfigError(
        message,
        file=pos.file if pos else filename,
        line=pos.line if pos else None,
        column=pos.column if pos else None,
        key_path=key_path or None,
    )
