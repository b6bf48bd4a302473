"""Validate compose data: the JSON Schema per file, then semantic checks on the merged project.

Every failure becomes one :class:`ConfigError` sentence naming the file, line, column and key
path, e.g. ``compose.yaml:12:5: services.web: additional property 'imagee' is not allowed (did
you mean 'image'?)``. The semantic checks live in :mod:`compose.config.semantics` and are
re-exported here; the unit parsers (durations, sizes, ports) are in :mod:`compose.config.units`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache

from compose.config.positions import (
    KeyPath,
    PositionMap,
    error_at,
    find_position,
    format_key_path,
)
from compose.config.semantics import check_semantics
from compose.config.yamlload import Override, Reset
from compose.errors import ConfigError
from compose.schema import load_compose_schema

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    from jsonschema import Draft202012Validator, ValidationError

__all__ = ["check_semantics", "validate_schema", "strip_markers"]

_TYPE_WORDS = {
    "string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
    "array": "a list", "object": "a mapping", "null": "empty",
}
_NAME_RULE = "use only letters, digits, '.', '_' and '-'"


@cache
def _quick_check() -> Callable[[Any], bool]:
    """The schema compiled to a yes/no predicate (see :mod:`compose.config.fastschema`)."""
    from compose.config.fastschema import compile_schema

    return compile_schema(load_compose_schema())


@cache
def _validator() -> Draft202012Validator:
    """The compiled validator; built once because it sits on the start-up path.

    jsonschema is imported here, not at module level: importing it costs ~45 ms, which
    commands that never validate should not pay.
    """
    from jsonschema import Draft202012Validator

    schema = load_compose_schema()
    return Draft202012Validator(_inline_refs(schema, schema.get("$defs", {})))


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """Replace every local ``$ref`` by the definition itself (the schema is not recursive).

    Resolving references is a third of jsonschema's work on a large file; doing it once here
    makes validation about a quarter faster.
    """
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def validate_schema(data: Any, filename: str, positions: PositionMap) -> None:
    """Check one (interpolated) compose file against the schema; raise the first error found.

    "First" means earliest in the file, so fixing errors top to bottom works as expected.
    """
    if not isinstance(data, dict):
        got = _TYPE_WORDS.get(_json_type(data), type(data).__name__)
        raise error_at(f"the top level must be a mapping of compose keys, not {got}",
                           (), positions, filename)
    plain = strip_markers(data)
    if _quick_check()(plain):
        return  # valid: jsonschema is only imported to find and word an error
    errors = list(_validator().iter_errors(plain))
    if not errors:
        return
    path, where, message = min((_describe(e) for e in errors),
                               key=lambda item: _sort_key(item[0], positions))
    pos = find_position(positions, path)
    raise ConfigError(message, file=pos.file if pos else filename,
                      line=pos.line if pos else None, column=pos.column if pos else None,
                      key_path=where or None)


def strip_markers(value: Any) -> Any:
    """Unwrap ``!override`` values and drop ``!reset`` ones so the schema sees plain data."""
    if isinstance(value, dict):
        return {k: strip_markers(v) for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [strip_markers(v) for v in value if not isinstance(v, Reset)]
    if isinstance(value, Override):
        return strip_markers(value.value)
    return value


def _sort_key(path: KeyPath, positions: PositionMap) -> tuple[int, int]:
    pos = find_position(positions, path)
    return (pos.line, pos.column) if pos else (0, 0)


def _describe(error: ValidationError) -> tuple[KeyPath, str, str]:
    """Turn one error into (position path, key path, message).

    The message starts with the key path it is about; for an unknown or badly named key that is
    the parent mapping, while the position path is the key itself (to point at its line).
    The schema merges alternatives by JSON type instead of using oneOf, so errors are direct;
    should a oneOf/anyOf appear, jsonschema's best_match picks the branch error.
    """
    if error.context:
        from jsonschema.exceptions import best_match

        error = best_match([error]) or error
    path: KeyPath = tuple(error.absolute_path)
    where = format_key_path(path)
    prefix = f"{where}: " if where else ""
    kind = error.validator
    if "propertyNames" in error.relative_schema_path:
        name = str(error.instance)
        return path + (name,), where, f"{prefix}{name!r} is not a valid name: {_NAME_RULE}"
    if kind == "additionalProperties":
        key, problem = _additional_property(error, path)
        return path + (key,), where, prefix + problem
    if kind == "required":
        missing = next(iter(_missing(error)), "?")
        return path, where, f"{prefix}missing required key '{missing}'"
    if kind == "enum":
        return path, where, f"{prefix}must be one of {', '.join(map(str, error.validator_value))}"
    hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
    if kind == "type" or (kind == "pattern" and hint):
        words = str(hint) if hint else _type_phrase(error.validator_value)
        return path, where, f"{prefix}must be {words}"
    return path, where, prefix + error.message


def _type_phrase(value: str | list[str]) -> str:
    return _join_words(_type_list(value))


def _type_list(value: str | list[str]) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    if "number" in names and "integer" in names:
        names.remove("integer")
    return [_TYPE_WORDS.get(n, n) for n in names if n != "null"] or ["empty"]


def _join_words(words: Iterable[str]) -> str:
    unique = list(dict.fromkeys(words))
    if len(unique) == 1:
        return unique[0]
    return ", ".join(unique[:-1]) + " or " + unique[-1]


def _additional_property(error: ValidationError, path: KeyPath) -> tuple[str, str]:
    allowed = list(error.schema.get("properties", {}))
    patterns = list(error.schema.get("patternProperties", {}))
    extras = [k for k in error.instance
              if k not in allowed and not any(re.search(p, k) for p in patterns)]
    key = extras[0] if extras else "?"
    problem = f"additional property {key!r} is not allowed"
    import difflib  # the error path only

    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        problem += f" (did you mean '{close[0]}'?)"
    elif not path:
        problem += "; top-level keys are " + ", ".join(allowed) + " and x-* extensions"
    return key, problem


def _missing(error: ValidationError) -> list[str]:
    return [k for k in error.validator_value if k not in error.instance]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
