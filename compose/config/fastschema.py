"""A yes/no JSON Schema check compiled to closures, so a valid file never imports jsonschema.

jsonschema costs ~35-50 ms to import (its format checkers, referencing, attrs) on every command
that loads a compose file. This module compiles the subset of draft 2020-12 that
``schema/compose-spec.json`` uses (``type``, ``properties``, ``patternProperties``,
``additionalProperties``, ``propertyNames``, ``items``, ``required``, ``enum``, ``pattern``,
local ``$ref``; annotations are ignored) into nested closures, once per process and each
property's schema when an instance first has that property.

It is one-sided by design: :func:`compile_schema` returns a predicate that says True only when
jsonschema would accept the instance. A keyword it does not know makes the predicate say False
for every instance that reaches it, and so does any doubt (an enum value of another type, a
number type other than int/float): the caller then asks jsonschema, which finds the error and
words it, or finds none. Agreement with jsonschema is property-tested.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    Check = Callable[[Any], bool]

_IGNORED = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description",
                      "x-hint", "default", "examples", "deprecated"})


def _never(_: Any) -> bool:
    return False


def _always(_: Any) -> bool:
    return True


def _is_integer(v: Any) -> bool:
    t = type(v)
    return t is int or (t is float and v.is_integer())


_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": _is_integer,
    "number": lambda v: type(v) is int or type(v) is float,
}


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.defs: Mapping[str, Any] = root.get("$defs", {})
        self.refs: dict[str, Check] = {}

    def compile(self, node: Any) -> Check:
        if node is True:
            return _always
        if node is False or not isinstance(node, dict):
            return _never
        if any(k not in _KEYWORDS and k not in _IGNORED for k in node):
            return _never  # a keyword we do not implement: let jsonschema decide
        checks = [_KEYWORDS[k](self, node) for k in node if k in _KEYWORDS]
        checks = [c for c in checks if c is not _always]
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(c(v) for c in checks)

    def ref(self, target: str) -> Check:
        if not target.startswith("#/$defs/"):
            return _never
        name = target.removeprefix("#/$defs/")
        if name not in self.refs:
            if name not in self.defs:
                return _never
            self.refs[name] = _never  # placeholder while compiling a recursive definition
            compiled = self.compile(self.defs[name])
            self.refs[name] = compiled
        refs = self.refs
        return lambda v: refs[name](v)


def _type(c: _Compiler, node: dict[str, Any]) -> Check:
    names = node["type"] if isinstance(node["type"], list) else [node["type"]]
    if any(n not in _TYPES for n in names):
        return _never
    tests = [_TYPES[n] for n in names]
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(t(v) for t in tests)


def _enum(c: _Compiler, node: dict[str, Any]) -> Check:
    allowed = node["enum"]
    if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
        return _never
    members = frozenset(allowed)
    return lambda v: type(v) is str and v in members


def _pattern(c: _Compiler, node: dict[str, Any]) -> Check:
    search = re.compile(node["pattern"]).search
    return lambda v: not isinstance(v, str) or search(v) is not None


def _required(c: _Compiler, node: dict[str, Any]) -> Check:
    names = tuple(node["required"])
    return lambda v: not isinstance(v, dict) or all(n in v for n in names)


def _items(c: _Compiler, node: dict[str, Any]) -> Check:
    if not isinstance(node["items"], (dict, bool)):
        return _never
    item = c.compile(node["items"])
    return lambda v: not isinstance(v, list) or all(item(x) for x in v)


def _property_names(c: _Compiler, node: dict[str, Any]) -> Check:
    name = c.compile(node["propertyNames"])
    return lambda v: not isinstance(v, dict) or all(name(k) for k in v)


def _ref(c: _Compiler, node: dict[str, Any]) -> Check:
    return c.ref(node["$ref"])


def _properties(c: _Compiler, node: dict[str, Any]) -> Check:
    """``properties``, ``patternProperties`` and ``additionalProperties`` together, since which
    keys are "additional" depends on the other two."""
    if "properties" not in node:  # compiled once, under the first of the three present
        return _always
    return _object_members(c, node)


def _object_members(c: _Compiler, node: dict[str, Any]) -> Check:
    declared: Mapping[str, Any] = node.get("properties", {})
    props: dict[str, Check] = {}  # compiled when a key first occurs (see _lazily)
    patterns = [(re.compile(p).search, _lazily(c, s))
                for p, s in node.get("patternProperties", {}).items()]
    extra = c.compile(node["additionalProperties"]) if "additionalProperties" in node else None

    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return True
        for key, value in v.items():
            own = props.get(key)
            if own is None and key in declared:
                own = props[key] = c.compile(declared[key])
            matched = own is not None
            if own is not None and not own(value):
                return False
            for search, sub in patterns:
                if isinstance(key, str) and search(key) is not None:
                    matched = True
                    if not sub(value):
                        return False
                elif not isinstance(key, str):
                    return False  # jsonschema would fail on a non-string key; let it say so
            if not matched and extra is not None and not extra(value):
                return False
        return True

    return check


def _lazily(c: _Compiler, node: Any) -> Check:
    """``node`` compiled when first checked against: a file uses a few of the schema's
    hundreds of properties, and compiling them all took ~1.5 ms of every command."""
    compiled: list[Check] = []

    def check(v: Any) -> bool:
        if not compiled:
            compiled.append(c.compile(node))
        return compiled[0](v)

    return check


def _members_without_properties(c: _Compiler, node: dict[str, Any]) -> Check:
    if "properties" in node:
        return _always  # done by _properties
    if "patternProperties" in node or "additionalProperties" in node:
        return _object_members(c, node)
    return _always


def _pattern_properties(c: _Compiler, node: dict[str, Any]) -> Check:
    return _members_without_properties(c, node)


def _additional_properties(c: _Compiler, node: dict[str, Any]) -> Check:
    if "patternProperties" in node:
        return _always  # done by _pattern_properties
    return _members_without_properties(c, node)


_KEYWORDS: dict[str, Callable[[_Compiler, dict[str, Any]], Check]] = {
    "type": _type, "enum": _enum, "pattern": _pattern, "required": _required,
    "items": _items, "propertyNames": _property_names, "$ref": _ref,
    "properties": _properties, "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
}


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """A predicate that is True only for instances jsonschema's Draft 2020-12 validator accepts
    (False may mean "invalid" or "not sure": ask jsonschema then)."""
    return _Compiler(schema).compile(dict(schema))
