"""Render a project the way ``docker compose config`` prints it.

The canonical mapping built by :mod:`normalize` already has docker compose's key order and
long syntaxes; this module only writes it out: YAML with two-space indentation, sequences
indented under their key, strings that would read back as another type double-quoted (as
go-yaml does), multi-line strings as literal blocks; or JSON with two-space indentation.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from compose.config.model import Project

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

# Plain scalars that YAML 1.1 or 1.2 would read as something other than a string: these
# words, and numbers, infinities, sexagesimals and dates (compiled when a scalar could be one).
_SPECIAL_WORDS = frozenset(
    "y Y yes Yes YES n N no No NO true True TRUE false False FALSE on On ON off Off OFF "
    "null Null NULL ~ << =".split()) | {""}
_NUMBER_START = frozenset("0123456789+-.")
_NUMBER_LIKE = r"""(?:[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d+)(?:[eE][-+]?\d+)?|0[xXoObB][\da-fA-F_]+
    |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?\d+(?::[0-5]?\d)+(?:\.\d*)?
    |\d{4}-\d\d?-\d\d?.*)\Z"""
_number_like: re.Pattern[str] | None = None


def _needs_quotes(text: str) -> bool:
    global _number_like
    if text in _SPECIAL_WORDS:
        return True
    if text[0] not in _NUMBER_START:
        return False
    if _number_like is None:
        _number_like = re.compile(_NUMBER_LIKE, re.VERBOSE)
    return _number_like.match(text) is not None


_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


def _plain_ok(text: str) -> bool:
    """Whether ``text`` can be written as a plain (unquoted) block scalar and read back as
    the same string."""
    if _needs_quotes(text) or text != text.strip() or "\n" in text:
        return False
    first = text[0]
    if first in _INDICATORS and not (first in "-?:" and len(text) > 1 and text[1] != " "):
        return False
    if ": " in text or " #" in text or text.endswith(":") or "\t" in text:
        return False
    return text.isprintable()


def _quoted(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif not ch.isprintable():
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _literal_ok(text: str) -> bool:
    lines = text.rstrip("\n").split("\n")
    return (text.isprintable() or all(c.isprintable() or c == "\n" for c in text)) and all(
        line == line.rstrip() for line in lines) and not text.startswith((" ", "\n"))


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return ".nan"
        if value in (float("inf"), float("-inf")):
            return ".inf" if value > 0 else "-.inf"
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    text = str(value)
    return text if text and _plain_ok(text) else _quoted(text)


def _emit(value: Any, indent: int, out: list[str], step: int = 2) -> None:
    """Append the block-style lines of a mapping or sequence ``value`` at ``indent``."""
    pad = " " * indent
    if isinstance(value, Mapping):
        for key, item in value.items():
            _emit_entry(f"{pad}{_scalar(str(key))}:", item, indent, out, step)
    else:
        for item in value:
            if isinstance(item, Mapping) and item:
                sub: list[str] = []
                _emit(item, indent + step, sub, step)
                sub[0] = f"{pad}- ".ljust(indent + step) + sub[0][indent + step :]
                out.extend(sub)
            else:
                _emit_entry(f"{pad}-", item, indent, out, step)


def _emit_entry(head: str, item: Any, indent: int, out: list[str], step: int = 2) -> None:
    if isinstance(item, (Mapping, list, tuple)):
        if not item:
            out.append(f"{head} {'{}' if isinstance(item, Mapping) else '[]'}")
            return
        out.append(head)
        _emit(item, indent + step, out, step)
    elif isinstance(item, str) and "\n" in item and _literal_ok(item):
        chomp = "-" if not item.endswith("\n") else "" if not item.endswith("\n\n") else "+"
        out.append(f"{head} |{chomp}")
        body = item[:-1] if item.endswith("\n") else item
        out.extend((" " * (indent + step) + line) if line else "" for line in body.split("\n"))
    else:
        out.append(f"{head} {_scalar(item)}")


def render_yaml(data: Any, step: int = 2) -> str:
    """YAML text in docker compose's output style (go-yaml v3, by default with two-space
    indentation): block style, sequences indented under their key, double quotes where a plain
    scalar would read back as another type or not at all, literal blocks for multi-line
    strings."""
    if not isinstance(data, (Mapping, list, tuple)) or not data:
        return _scalar(data) + "\n" if not isinstance(data, (Mapping, list, tuple)) else (
            "{}\n" if isinstance(data, Mapping) else "[]\n")
    out: list[str] = []
    _emit(data, 0, out, step)
    return "\n".join(out) + "\n"


def render_json(data: Any) -> str:
    """JSON text with two-space indentation."""
    import json  # (~1 ms: YAML output does without it)

    return json.dumps(_plain(data), indent=2, ensure_ascii=False) + "\n"


def _plain(data: Any) -> Any:
    """Mappings and sequences as dicts and lists (the model may hold read-only views)."""
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    return data


def project_document(project: Project) -> dict[str, Any]:
    """The mapping ``config`` prints for ``project``: the model, minus the flags compose-go
    leaves out when false (its fields are ``omitempty`` booleans)."""
    doc = dict(project.raw)
    if isinstance(doc.get("services"), Mapping):
        doc["services"] = {k: _service_document(v) if isinstance(v, Mapping) else v
                           for k, v in doc["services"].items()}
    if isinstance(doc.get("networks"), Mapping):
        doc["networks"] = {k: _without_false(v, _NETWORK_FLAGS) if isinstance(v, Mapping)
                           else v for k, v in doc["networks"].items()}
    return doc


_SERVICE_FLAGS = ("oom_kill_disable", "privileged", "read_only", "stdin_open", "tty",
                  "use_api_socket")
_NETWORK_FLAGS = ("internal", "attachable")


def _without_false(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if not (k in keys and v is False)}


def _service_document(svc: Mapping[str, Any]) -> dict[str, Any]:
    out = _without_false(svc, _SERVICE_FLAGS)
    if isinstance(out.get("volumes"), list):
        out["volumes"] = [_volume_document(v) if isinstance(v, Mapping) else v
                          for v in out["volumes"]]
    if isinstance(out.get("depends_on"), Mapping):
        out["depends_on"] = {k: _without_false(v, ("restart",)) if isinstance(v, Mapping)
                             else v for k, v in out["depends_on"].items()}
    return out


def _volume_document(mount: Mapping[str, Any]) -> dict[str, Any]:
    out = _without_false(mount, ("read_only",))
    if isinstance(out.get("volume"), Mapping):
        out["volume"] = _without_false(out["volume"], ("nocopy",))
    return out


def render_project(project: Project, fmt: str = "yaml") -> str:
    """``project`` as YAML or JSON text. Like docker compose, the JSON form has its top-level
    keys sorted (it is a map there, not a struct) and escapes ``<``, ``>`` and ``&``."""
    doc = project_document(project)
    return render_yaml(doc) if fmt != "json" else _go_json(dict(sorted(doc.items())))


def _go_json(doc: Any) -> str:
    """JSON as Go's ``json.MarshalIndent`` writes it: two-space indentation, ``<``, ``>`` and
    ``&`` escaped, and no newline at the end."""
    text = render_json(doc).removesuffix("\n")
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_sorted(project: Project, fmt: str = "yaml") -> str:
    """``project`` as ``config --no-interpolate`` prints it: the model is a plain map there, so
    every mapping has its keys in alphabetical order (sequences keep theirs)."""
    doc = _sorted_keys(project_document(project))
    return _go_json(doc) if fmt == "json" else render_yaml(doc)


def _sorted_keys(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {str(k): _sorted_keys(v) for k, v in sorted(data.items(), key=lambda kv: str(kv[0]))}
    if isinstance(data, (list, tuple)):
        return [_sorted_keys(v) for v in data]
    return data
