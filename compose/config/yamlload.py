"""Read one compose YAML document into plain Python data plus the position of every key.

Scalars are resolved the way docker compose (compose-go, go-yaml v3) resolves them when it
decodes into untyped maps, i.e. YAML 1.2 rules rather than PyYAML's YAML 1.1 rules:

* only ``true``/``True``/``TRUE``/``false``/``False``/``FALSE`` are booleans, so ``yes``, ``no``,
  ``on``, ``off``, ``y``, ``n`` stay strings (``environment: {A: yes}`` gives ``A=yes``);
* ``~``, ``null``, ``Null``, ``NULL`` and the empty scalar are null;
* integers follow Go's ``ParseInt(s, 0, 64)`` after removing ``_``: decimal, ``0x``, ``0o``,
  ``0b`` and a leading ``0`` for octal (``0755`` is 493); floats match go-yaml's float syntax plus
  ``.inf``/``.nan``; base-60 numbers (``1:30``) and timestamps stay strings.

Quoted scalars are always strings. Anchors, aliases and merge keys (``<<``, also a list of
mappings) are expanded; keys given in the mapping itself win over merged ones and, among merged
mappings, the earlier one wins. ``!reset`` and ``!override`` may tag any node: a ``!reset`` node
becomes the :data:`RESET` singleton (its content is ignored) and an ``!override`` node becomes
``Override(value)``. Mapping keys are always strings (the scalar's source text).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from compose.config.positions import KeyPath, Position, PositionMap, format_key_path
from compose.config.pyyaml import MappingNode, Node, ScalarNode, SequenceNode, yaml
from compose.errors import ConfigError

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

try:  # libyaml does the scanning and composing in C; fall back to pure Python without it.
    from yaml._yaml import CParser as _Parser

    _HAVE_LIBYAML = True
except ImportError:  # pragma: no cover - depends on the PyYAML build
    _HAVE_LIBYAML = False

__all__ = ["Override", "Reset", "RESET", "load_yaml", "load_yaml_documents"]

_TAG = "tag:yaml.org,2002:"
STR_TAG, INT_TAG, FLOAT_TAG = _TAG + "str", _TAG + "int", _TAG + "float"
BOOL_TAG, NULL_TAG, MERGE_TAG = _TAG + "bool", _TAG + "null", _TAG + "merge"
SEQ_TAG, MAP_TAG = _TAG + "seq", _TAG + "map"
RESET_TAG, OVERRIDE_TAG = "!reset", "!override"

# Guards against alias bombs ("billion laughs"): no compose file needs this many values.
MAX_VALUES = 2_000_000


class Reset:
    """Marker for a node tagged ``!reset``: the merge step removes the key it sits on.

    There is one instance, :data:`RESET`; test with ``isinstance(v, Reset)`` or ``v is RESET``.
    """

    _instance: Reset | None = None

    def __new__(cls) -> Reset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "RESET"


RESET = Reset()


@dataclass(frozen=True, slots=True)
class Override:
    """A value tagged ``!override``: the merge step replaces instead of merging."""

    value: Any


_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_SPECIAL_FLOATS = {
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
}
_GO_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def resolve_plain(text: str) -> tuple[str, Any]:
    """Return (tag, value) for a plain (unquoted) scalar, following go-yaml v3."""
    if text in _NULLS:
        return NULL_TAG, None
    if text in _BOOLS:
        return BOOL_TAG, _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return FLOAT_TAG, _SPECIAL_FLOATS[text]
    first = text[0]
    if not (first.isdigit() or first in "+-."):
        return STR_TAG, text
    plain = text.replace("_", "")
    if _GO_INT.fullmatch(plain):
        value = _parse_go_int(plain)
        if _INT64_MIN <= value <= _UINT64_MAX:
            return INT_TAG, value
    if _GO_FLOAT.fullmatch(plain):
        return FLOAT_TAG, float(plain)
    return STR_TAG, text


def _parse_go_int(plain: str) -> int:
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] not in "xXoObB":
        return sign * int(digits, 8)
    return sign * int(digits, 0)


class _ComposeResolver(yaml.resolver.BaseResolver):
    """Tags plain scalars by go-yaml v3 rules (see the module docstring)."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:
                return MERGE_TAG if value == "<<" else resolve_plain(value)[0]
            return STR_TAG
        return SEQ_TAG if kind is SequenceNode else MAP_TAG


class _PyLoader(
    yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
    _ComposeResolver,
):
    """Pure-Python composition, used when PyYAML was built without libyaml."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _ComposeResolver.__init__(self)


_Loader: type = _PyLoader
if _HAVE_LIBYAML:

    class _CLoader(_Parser, _ComposeResolver):  # type: ignore[valid-type,misc]
        """libyaml composition (several times faster); nodes are the same Python objects."""

        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            _ComposeResolver.__init__(self)

    _Loader = _CLoader


def load_yaml(text: str, filename: str) -> tuple[Any, PositionMap]:
    """Parse one compose file; return (data, positions). An empty file gives ``(None, {})``.

    Raises ConfigError (with file, line and column) on YAML syntax errors, duplicate keys,
    unknown tags, recursive aliases and files holding more than one document.
    """
    docs = load_yaml_documents(text, filename)
    if not docs:
        return None, {}
    if len(docs) > 1:
        second = docs[1][1].get(())
        raise ConfigError(
            "the file holds more than one YAML document; put each in its own file",
            file=filename, line=second.line if second else None,
        )
    data, positions = docs[0]
    return (None, {}) if data is None else (data, positions)


def load_yaml_documents(text: str, filename: str,
                        loader: type | None = None) -> list[tuple[Any, PositionMap]]:
    """Parse every document of a YAML stream; each gets its own data and positions.

    ``loader`` picks the composer class (tests compare libyaml with pure Python).
    """
    nodes = _compose_nodes(text, filename, loader or _Loader)
    return [_Builder(filename).build(node) for node in nodes]


def _compose_nodes(text: str, filename: str, loader_class: type) -> list[Node]:
    loader = loader_class(text)
    try:
        nodes = []
        while loader.check_node():
            nodes.append(loader.get_node())
        return nodes
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, filename) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow; no mark
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise ConfigError(f"invalid YAML: character {exc.character!r} is not allowed",
                          file=filename, line=line, column=column) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML: {_one_line(str(exc))}", file=filename) from None
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, filename: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    problem = _one_line(exc.problem or "syntax error")
    if exc.context:
        problem += f" ({_one_line(exc.context)})"
    return ConfigError(
        f"invalid YAML: {problem}",
        file=filename,
        line=mark.line + 1 if mark else None,
        column=mark.column + 1 if mark else None,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Builder:
    """Turns a composed node tree into plain data, recording key and item positions."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.positions: PositionMap = {}
        self.active: set[int] = set()  # nodes being built: an alias back to one is a cycle
        self.count = 0

    def build(self, node: Node) -> tuple[Any, PositionMap]:
        self.positions[()] = self.position(node)
        return self.value(node, ()), self.positions

    def position(self, node: Node) -> Position:
        mark = node.start_mark
        return Position(self.filename, mark.line + 1, mark.column + 1)

    def fail(self, message: str, node: Node, path: KeyPath) -> ConfigError:
        pos = self.position(node)
        where = format_key_path(path)
        return ConfigError(f"{where}: {message}" if where else message, file=pos.file,
                           line=pos.line, column=pos.column, key_path=where or None)

    def value(self, node: Node, path: KeyPath) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail("the file expands to too many values (alias bomb?)", node, path)
        tag = node.tag
        if tag == RESET_TAG:
            return RESET
        if tag == OVERRIDE_TAG:
            return Override(self.untagged(node, path))
        return self.untagged(node, path)

    def untagged(self, node: Node, path: KeyPath) -> Any:
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        key = id(node)
        if key in self.active:
            raise self.fail("an alias refers to the node that contains it", node, path)
        self.active.add(key)
        try:
            if isinstance(node, SequenceNode):
                return self.sequence(node, path)
            assert isinstance(node, MappingNode)
            return self.mapping(node, path)
        finally:
            self.active.discard(key)

    def scalar(self, node: ScalarNode, path: KeyPath) -> Any:
        tag, text = node.tag, node.value
        if tag == STR_TAG:
            return text
        if tag == OVERRIDE_TAG:  # an explicit tag hides the implicit type: resolve it here
            return text if node.style else resolve_plain(text)[1]
        if tag in (NULL_TAG, BOOL_TAG, INT_TAG, FLOAT_TAG):
            got_tag, value = resolve_plain(text)
            if got_tag != tag and not (tag == FLOAT_TAG and got_tag == INT_TAG):
                raise self.fail(f"cannot read {text!r} as {tag.rsplit(':', 1)[-1]}", node, path)
            return float(value) if tag == FLOAT_TAG else value
        if tag == MERGE_TAG:
            return text
        raise self.fail(f"unknown YAML tag {tag!r}; only !reset and !override are supported",
                        node, path)

    def sequence(self, node: SequenceNode, path: KeyPath) -> list[Any]:
        if node.tag not in (SEQ_TAG, RESET_TAG, OVERRIDE_TAG):
            raise self.fail(f"unknown YAML tag {node.tag!r} on a sequence", node, path)
        out = []
        for index, item in enumerate(node.value):
            item_path = path + (index,)
            self.positions[item_path] = self.position(item)
            out.append(self.value(item, item_path))
        return out

    def mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        if node.tag not in (MAP_TAG, RESET_TAG, OVERRIDE_TAG):
            raise self.fail(f"unknown YAML tag {node.tag!r} on a mapping", node, path)
        out: dict[str, Any] = {}
        merges: list[MappingNode] = []
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merges.extend(self.merge_sources(value_node, path))
                continue
            key = self.key(key_node, path)
            key_path = path + (key,)
            if key in out:
                first = self.positions[key_path]
                raise self.fail(f"duplicate key {key!r} (first defined at line {first.line})",
                                key_node, key_path)
            self.positions[key_path] = self.position(key_node)
            out[key] = self.value(value_node, key_path)
        for source in merges:
            self.merge_into(out, source, path)
        return out

    def key(self, node: Node, path: KeyPath) -> str:
        if not isinstance(node, ScalarNode):
            raise self.fail("a mapping key must be a plain scalar, not a mapping or list",
                            node, path)
        return node.value

    def merge_sources(self, node: Node, path: KeyPath) -> list[MappingNode]:
        """The mappings a ``<<`` key merges in, earliest (winning) first."""
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
            return list(node.value)
        raise self.fail("a merge key '<<' takes a mapping or a list of mappings", node, path)

    def merge_into(self, out: dict[str, Any], source: MappingNode, path: KeyPath) -> None:
        # Build the source against a scratch map so its own positions only land for keys
        # that the merge actually contributes.
        scratch = _Builder(self.filename)
        scratch.active, scratch.count = self.active, self.count
        merged = scratch.untagged(source, path)
        self.count = scratch.count
        added = set()
        for key, value in merged.items():
            if key not in out:
                out[key] = value
                added.add(key)
        depth = len(path)
        for sub_path, pos in scratch.positions.items():
            if len(sub_path) > depth and sub_path[depth] in added:
                self.positions[sub_path] = pos
