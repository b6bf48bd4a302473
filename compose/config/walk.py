"""Small read-only helpers for walking compose data (dicts and lists from YAML)."""
from __future__ import annotations

from collections.abc import Iterator

from compose.config.positions import KeyPath

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any


def get_in(data: Any, path: KeyPath) -> Any:
    """The value at ``path`` under nested mappings, or None where any step is missing."""
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def entries(value: Any) -> Iterator[tuple[str | int, Any]]:
    """(key, entry) pairs of a mapping, or (index, entry) pairs of a list; nothing otherwise."""
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, list):
        yield from enumerate(value)


def has_interpolation(value: Any) -> bool:
    """True for strings still holding ``$`` (a file read with interpolation switched off)."""
    return isinstance(value, str) and "$" in value
