"""Property: a mutated corpus file either loads to a model or fails with a ComposeError —
never any other exception (which would surface as a traceback)."""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compose.config import LoadOptions, load
from compose.config.canonical import render_project
from compose.errors import ComposeError
from compose.graph import build_graph
from tests.conftest import CORPUS

FILES = sorted(CORPUS.rglob("compose.y*ml")) if CORPUS.is_dir() else []
DOCS = [yaml.safe_load(p.read_text()) for p in FILES]

BAD_VALUES = st.one_of(
    st.sampled_from([
        None, True, 0, -1, 65536, 1.5, "", "$", "${", "${X:?missing}", "$$", "${A:-${B}}",
        ":::", "a:b:c:d", "-1:80", "80-70:1", "1e999", "10 parsecs", "../..", "~", "[::1]:x",
        "service:", "service:nope", "container:", "true", "no", "\u0000", "a" * 300,
        "sh -c 'unterminated", "CMD-SHELL", "NONE", [], {}, [None], {"": None}, ["x=y"],
        {"condition": "service_weird"}, {"target": "/x"}, {"type": "bind"},
    ]),
    st.text(max_size=12),
    st.integers(),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _mutate(doc: Any, path: tuple[Any, ...], action: str, value: Any) -> None:
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "delete":
        del parent[last]
    elif action == "swap":
        current = parent[last]
        if isinstance(current, dict):
            parent[last] = list(current.items())
        elif isinstance(current, list):
            parent[last] = {str(i): v for i, v in enumerate(current)}
        else:
            parent[last] = [current]
    else:
        parent[last] = value


@st.composite
def mutated_documents(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(DOCS)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["delete", "swap", "set", "set"]))
        _mutate(doc, path, action, copy.deepcopy(draw(BAD_VALUES)))
    return doc


@pytest.mark.skipif(not DOCS, reason=f"no corpus at {CORPUS}")
@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=mutated_documents())
def test_mutated_corpus_never_crashes(doc: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "compose.yaml"
        path.write_text(yaml.safe_dump(doc, allow_unicode=True))
        try:
            project = load(LoadOptions(files=(str(path),), working_dir=tmp, environ={}))
            render_project(project, "yaml")
            render_project(project, "json")
            build_graph(project)
        except ComposeError as exc:
            assert exc.message and "\n" not in exc.message.strip("\n")


@st.composite
def overrides(draw: st.DrawFn) -> tuple[Any, Any]:
    """A corpus document and an override built from (mutated) pieces of another one."""
    base = copy.deepcopy(draw(st.sampled_from(DOCS)))
    donor = draw(mutated_documents())
    services = list((base.get("services") or {}).keys()) if isinstance(base, dict) else []
    donor_services = (donor.get("services") or {}) if isinstance(donor, dict) else {}
    override: dict[str, Any] = {"services": {}}
    if isinstance(donor_services, dict):
        for name, svc in list(donor_services.items())[:2]:
            target = draw(st.sampled_from(services)) if services else name
            override["services"][target] = svc
    for key in ("volumes", "networks", "secrets"):
        if isinstance(donor, dict) and key in donor and draw(st.booleans()):
            override[key] = donor[key]
    return base, override


@pytest.mark.skipif(not DOCS, reason=f"no corpus at {CORPUS}")
@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(pair=overrides())
def test_merged_mutations_never_crash(pair: tuple[Any, Any]) -> None:
    base, override = pair
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "compose.yaml").write_text(yaml.safe_dump(base, allow_unicode=True))
        (Path(tmp) / "compose.override.yaml").write_text(
            yaml.safe_dump(override, allow_unicode=True))
        try:
            project = load(LoadOptions(working_dir=tmp, environ={}))
            render_project(project, "yaml")
        except ComposeError as exc:
            assert exc.message and "\n" not in exc.message.strip("\n")
