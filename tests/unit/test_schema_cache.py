"""The parsed compose schema is kept beside the bytecode and read back while the JSON file is
unchanged (schema/__init__.py)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

import schema


@pytest.fixture
def spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "compose-spec.json"
    path.write_text(json.dumps({"properties": {"services": {}}}))
    monkeypatch.setattr(schema, "SCHEMA_PATH", str(path))
    monkeypatch.setattr(schema, "_CACHE_PATH", str(tmp_path / "__pycache__" / "spec.marshal"))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    return path


def load() -> dict:
    return schema.load_compose_schema.__wrapped__()  # type: ignore[attr-defined, no-any-return]


def test_a_parsed_schema_is_read_back_while_the_file_is_unchanged(spec: Path) -> None:
    assert load() == {"properties": {"services": {}}}
    assert os.path.isfile(schema._CACHE_PATH)
    stamp = spec.stat().st_mtime_ns
    spec.write_text(json.dumps({"properties": {"networks": {}}}))  # the same size
    os.utime(spec, ns=(stamp, stamp))
    assert load() == {"properties": {"services": {}}}  # from the cache: the stamp matched
    os.utime(spec, ns=(stamp + 1000, stamp + 1000))
    assert load() == {"properties": {"networks": {}}}  # changed: parsed again
    assert load() == {"properties": {"networks": {}}}


def test_a_damaged_cache_is_parsed_around(spec: Path) -> None:
    load()
    Path(schema._CACHE_PATH).write_bytes(b"\x00garbage")
    assert load() == {"properties": {"services": {}}}
    Path(schema._CACHE_PATH).write_bytes(b"")
    assert load() == {"properties": {"services": {}}}


def test_nothing_is_written_where_bytecode_is_not(spec: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert load() == {"properties": {"services": {}}}
    assert not os.path.exists(schema._CACHE_PATH)


def test_the_shipped_schema_loads_the_same_either_way() -> None:
    with open(schema.SCHEMA_PATH, encoding="utf-8") as f:
        assert schema.load_compose_schema() == json.load(f)
