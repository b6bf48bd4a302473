"""The compiled yes/no schema check agrees with jsonschema (it decides alone on valid files)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compose.config.fastschema import compile_schema
from schema import load_compose_schema

SCHEMA = load_compose_schema()
FAST = compile_schema(SCHEMA)
SLOW = jsonschema.Draft202012Validator(SCHEMA)
REPO = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000),
                     st.floats(allow_nan=False, allow_infinity=False, width=32),
                     st.sampled_from(["", "x", "all", "web", "1", "a b", "x-y", "8080:80",
                                      "service_healthy", "bind", "z", "start-first"]))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["x-a", "a", "image", "1", "b c"]), inner, max_size=3)),
    max_leaves=6)


def _resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].removeprefix("#/$defs/")]
    return node


def _instance(node: Any, depth: int) -> st.SearchStrategy[Any]:
    """Mostly valid instances of ``node`` (a schema), with random values mixed in."""
    node = _resolve(node)
    if depth > 5 or not isinstance(node, dict):
        return _JSON
    types = node.get("type", ["object"])
    types = [types] if isinstance(types, str) else types
    options = [_of_type(node, t, depth) for t in types]
    return st.one_of(*options, _JSON) if depth else st.one_of(*options)


def _of_type(node: dict[str, Any], kind: str, depth: int) -> st.SearchStrategy[Any]:
    if kind == "object":
        return _mapping(node, depth)
    if kind == "array":
        return st.lists(_instance(node.get("items", {}), depth + 1), max_size=3)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if kind == "string" and "pattern" in node:
        return st.one_of(st.from_regex(node["pattern"], fullmatch=True), st.just("a b"))
    return {"string": st.text(max_size=4), "integer": st.integers(-2, 9),
            "number": st.one_of(st.integers(-2, 9), st.floats(-1, 9)), "boolean": st.booleans(),
            "null": st.none()}.get(kind, _JSON)


def _mapping(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    props = node.get("properties", {})
    keys: dict[str, st.SearchStrategy[Any]] = {
        k: _instance(s, depth + 1) for k, s in list(props.items())[:25]}
    extra = node.get("additionalProperties", True)
    extra_value = _instance(extra, depth + 1) if isinstance(extra, dict) else _JSON
    names = st.one_of(st.sampled_from(["web", "db", "x-ext", "bad name", "imagee"]),
                      st.text(alphabet="ab._-", min_size=1, max_size=3))
    fixed = st.fixed_dictionaries({}, optional=keys) if keys else st.just({})
    return st.builds(lambda a, b: {**b, **a}, fixed,
                     st.dictionaries(names, extra_value, max_size=2))


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(_instance(SCHEMA, 0))
def test_agrees_with_jsonschema(doc: Any) -> None:
    assert FAST(doc) == SLOW.is_valid(doc), doc


@given(_JSON)
@settings(max_examples=300, deadline=None)
def test_agrees_on_arbitrary_values(doc: Any) -> None:
    assert FAST(doc) == SLOW.is_valid(doc)


def test_agrees_on_the_repository_compose_files() -> None:
    paths = [p for p in [*REPO.glob("examples/**/*.y*ml"), *REPO.glob("tests/**/*.y*ml")]
             if "compose" in p.name or "docker-compose" in p.name]
    docs = [d for p in paths for d in yaml.safe_load_all(p.read_text()) if d is not None]
    assert docs, "no compose files found"
    for doc in docs:
        assert FAST(doc) == SLOW.is_valid(doc)


def test_valid_and_invalid_examples() -> None:
    good = {"services": {"web": {"image": "busybox", "ports": ["80:80"],
                                 "depends_on": {"db": {"condition": "service_healthy"}},
                                 "x-note": [1]}},
            "networks": {"front": None}, "x-any": {"k": 1}}
    assert FAST(good) and SLOW.is_valid(good)
    for bad in ({"services": {"web": {"imagee": "busybox"}}},
                {"services": {"bad name": {"image": "x"}}},
                {"services": {"web": {"depends_on": {"db": {"condition": "later"}}}}},
                {"services": {"web": {"ports": [True]}}},
                {"services": []}, {"nope": 1}):
        assert not FAST(bad) and not SLOW.is_valid(bad), bad


def test_unknown_keyword_is_never_accepted() -> None:
    check = compile_schema({"type": "object", "minProperties": 1})
    assert not check({"a": 1}) and not check({})


def test_a_property_schema_is_compiled_when_an_instance_first_has_it() -> None:
    read: list[str] = []

    class Watched(dict[str, Any]):
        """A schema node that records when the compiler reads its keywords."""

        def __iter__(self) -> Any:
            read.append(self["type"])
            return super().__iter__()

    check = compile_schema({"type": "object", "properties": {"a": Watched(type="string")},
                            "patternProperties": {"^x-": Watched(type="integer")},
                            "additionalProperties": False})
    assert read == []
    assert check({}) and not check({"b": 1}) and read == []
    assert not check({"a": 1}) and "string" in read and "integer" not in read
    count = len(read)
    assert check({"a": "s"}) and check({"a": "t"}) and len(read) == count  # compiled once
    assert check({"x-1": 2}) and not check({"x-1": "2"}) and "integer" in read
