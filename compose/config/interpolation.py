"""Variable interpolation in compose file values (never keys), like docker compose.

Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}``,
``${VAR?error}``, ``${VAR:+alt}``, ``${VAR+alt}``, nested defaults and ``$$`` for a literal ``$``.
An unset variable becomes an empty string with a warning. A ``$`` followed by neither a name,
``{`` nor ``$`` is kept literally (compose-go's pattern does not match it); a malformed ``${...}``
is an error.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from compose.config.positions import KeyPath, PositionMap, find_position, format_key_path
from compose.config.yamlload import Override
from compose.errors import ConfigError
from engine.lazy import logger

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

log = logger(__name__)  # (logging loads when a warning is logged)

Lookup = Callable[[str], str | None]
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A template is malformed or a required variable is missing; ``variable`` names it."""

    def __init__(self, message: str, variable: str | None = None) -> None:
        super().__init__(message)
        self.variable = variable


def substitute(
    template: str, lookup: Lookup, on_unset: Callable[[str], None] | None = None
) -> str:
    """Return ``template`` with every variable reference replaced using ``lookup``."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        dollar = template.find("$", i)
        if dollar < 0:
            out.append(template[i:])
            break
        out.append(template[i:dollar])
        i = _expand_at(template, dollar, lookup, on_unset, out)
    return "".join(out)


def _expand_at(
    text: str, pos: int, lookup: Lookup, on_unset: Callable[[str], None] | None, out: list[str]
) -> int:
    """Expand the reference starting at ``text[pos] == '$'``; return the index after it."""
    nxt = text[pos + 1 : pos + 2]
    if nxt == "$":
        out.append("$")
        return pos + 2
    if nxt == "{":
        end = _matching_brace(text, pos + 2)
        out.append(_expand_braced(text[pos + 2 : end], lookup, on_unset))
        return end + 1
    match = _NAME.match(text, pos + 1)
    if match is None:
        # compose-go keeps a '$' that starts no reference as it is: shell syntax such as
        # "$(cmd)", "$1", "$@" or "$?" in commands and dockerfile_inline passes through.
        out.append("$")
        return pos + 1
    out.append(_value_or_blank(match.group(), lookup, on_unset))
    return match.end()


def _matching_brace(text: str, start: int) -> int:
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise InterpolationError(f"invalid interpolation format in {text!r}: missing '}}'")


def _expand_braced(body: str, lookup: Lookup, on_unset: Callable[[str], None] | None) -> str:
    match = _NAME.match(body)
    if match is None:
        raise InterpolationError(f"invalid interpolation format: '${{{body}}}' has no valid "
                                 "variable name")
    name, rest = match.group(), body[match.end() :]
    if not rest:
        return _value_or_blank(name, lookup, on_unset)
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise InterpolationError(f"invalid interpolation format: '${{{body}}}'", name)
    word = rest[len(op) :]
    value = lookup(name)
    empty = value is None or (op.startswith(":") and value == "")
    if op in (":-", "-"):
        return substitute(word, lookup, on_unset) if empty else str(value)
    if op in (":+", "+"):
        return "" if empty else substitute(word, lookup, on_unset)
    if empty:  # ":?" / "?"
        detail = substitute(word, lookup, on_unset)
        raise InterpolationError(f"required variable {name} is missing a value: {detail}", name)
    return str(value)


def _value_or_blank(name: str, lookup: Lookup, on_unset: Callable[[str], None] | None) -> str:
    value = lookup(name)
    if value is None:
        if on_unset is not None:
            on_unset(name)
        return ""
    return value


# Values that the schema types as bool/int/float: after interpolation they are strings and are
# converted back, like compose-go does for these keys.
_BOOL_KEYS = frozenset({
    "privileged", "read_only", "stdin_open", "tty", "init", "external", "internal",
    "attachable", "enable_ipv4", "enable_ipv6", "disable", "oom_kill_disable", "nocopy",
    "create_host_path", "no_cache", "pull", "required", "use_api_socket",
})
_INT_KEYS = frozenset({
    "replicas", "scale", "retries", "cpu_shares", "pids_limit", "oom_score_adj", "cpu_count",
    "cpu_percent", "mem_swappiness", "max_attempts", "parallelism", "target", "priority",
    "gw_priority", "pids", "cpu_period", "cpu_quota", "weight", "soft", "hard", "uid_count",
})
_FLOAT_KEYS = frozenset({"cpus", "max_failure_ratio"})


# Mappings whose keys are the user's names, not compose keys: their values are never cast.
_FREE_MAPS = frozenset({"labels", "environment", "annotations", "sysctls", "driver_opts",
                        "options", "args", "extra_hosts", "aux_addresses"})
_BOOL_WORDS = ("true", "false", "yes", "no", "y", "n", "on", "off")


def _cast(path: KeyPath, value: str) -> Any:
    if any(isinstance(k, str) and (k in _FREE_MAPS or k.startswith("x-")) for k in path[:-1]):
        return value
    key = next((k for k in reversed(path) if isinstance(k, str)), "")
    if key in _BOOL_KEYS:
        if value.lower() not in _BOOL_WORDS:
            # compose-go: "failed to cast to expected type: invalid boolean"
            raise InterpolationError(f"failed to cast to expected type: invalid boolean: "
                                     f"{value!r} (use true or false)")
        return value.lower() in ("true", "yes", "y", "on")
    if key in _INT_KEYS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if key in _FLOAT_KEYS and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    return value


def interpolate_data(
    data: Any,
    env: Mapping[str, str],
    filename: str,
    positions: PositionMap,
    path: KeyPath = (),
) -> Any:
    """Interpolate every string value of ``data`` (recursively; mapping keys are left alone).

    Raises ConfigError naming the file, line, key path and variable on a bad reference.
    """
    warned: set[str] = set()

    def on_unset(name: str) -> None:
        if name not in warned:
            warned.add(name)
            log.warning('The "%s" variable is not set. Defaulting to a blank string.', name)

    return _walk(data, env.get, on_unset, filename, positions, path)


def _walk(
    data: Any, lookup: Lookup, on_unset: Callable[[str], None], filename: str,
    positions: PositionMap, path: KeyPath,
) -> Any:
    if isinstance(data, dict):
        return {k: _walk(v, lookup, on_unset, filename, positions, (*path, k))
                for k, v in data.items()}
    if isinstance(data, list):
        return [_walk(v, lookup, on_unset, filename, positions, (*path, i))
                for i, v in enumerate(data)]
    if isinstance(data, str) and "$" in data:
        try:
            return _cast(path, substitute(data, lookup, on_unset))
        except InterpolationError as exc:
            raise config_error_at(str(exc), filename, positions, path) from None
    if isinstance(data, Override):
        return Override(_walk(data.value, lookup, on_unset, filename, positions, path))
    return data


def config_error_at(message: str, filename: str, positions: PositionMap,
                    path: KeyPath) -> ConfigError:
    """A ConfigError located at ``path`` (or its nearest known ancestor) in ``filename``."""
    pos = find_position(positions, path)
    return ConfigError(
        message,
        file=pos.file if pos else filename,
        line=pos.line if pos else None,
        column=pos.column if pos else None,
        key_path=format_key_path(path) if path else None,
    )


def extract_variables(data: Any) -> dict[str, tuple[bool, str, str]]:
    """Every variable referenced in ``data``'s values: name -> (required, default, alternate),
    as ``config --variables`` lists them. Malformed templates are skipped."""
    found: dict[str, tuple[bool, str, str]] = {}

    def record(name: str) -> str | None:
        found.setdefault(name, (False, "", ""))
        return None

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)
        elif isinstance(node, str) and "$" in node:
            for match in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?([^}]*)\}", node):
                name, op, word = match.group(1), match.group(2) or "", match.group(3)
                required = op.endswith("?")
                default = word if op.endswith("-") else ""
                alternate = word if op.endswith("+") else ""
                found[name] = (required or found.get(name, (False,))[0], default, alternate)
            try:
                substitute(node, record)
            except InterpolationError:
                pass

    visit(data)
    return dict(sorted(found.items()))
