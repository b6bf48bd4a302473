"""docker compose's canonical output style and the short-syntax parsers behind it."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from compose.config.canonical import render_json, render_yaml
from compose.config.syntax import format_duration, parse_port_spec, parse_volume_short
from compose.config.yamlload import load_yaml


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (10, "10s"), (90, "1m30s"), (3600, "1h0m0s"), (0.5, "500ms"),
    (1.5, "1.5s"), (0.000002, "2µs"), (7322, "2h2m2s"),
])
def test_go_duration_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_yaml_style_matches_go_yaml() -> None:
    text = render_yaml({"a": {"list": [{"k": "v"}], "num": "8080", "flag": "true", "none": None,
                              "plain": "hello", "multi": "x\ny", "empty": ""}})
    assert text == (
        "a:\n"
        "  list:\n"
        "    - k: v\n"
        '  num: "8080"\n'
        '  flag: "true"\n'
        "  none: null\n"
        "  plain: hello\n"
        "  multi: |-\n"
        "    x\n"
        "    y\n"
        '  empty: ""\n'
    )


def test_rendered_strings_read_back_as_strings() -> None:
    data = {"v": ["1.0", "0x1f", "yes", "off", "~", "1e3", "12:30", "-1", ".inf", "a: b", "#x"]}
    assert yaml.safe_load(render_yaml(data)) == data
    assert render_json(data).startswith('{\n  "v": [\n')


@pytest.mark.parametrize(("spec", "expected"), [
    ("80", [(None, None, 80)]),
    ("8080:80", [(None, "8080", 80)]),
    ("127.0.0.1::80", [("127.0.0.1", None, 80)]),
    ("9090-9091:8080", [(None, "9090-9091", 8080)]),
    ("3000-3001", [(None, None, 3000), (None, None, 3001)]),
    ("[::1]:5353:53/udp", [("::1", "5353", 53)]),
])
def test_port_short_syntax(spec: str, expected: list[tuple[str | None, str | None, int]]) -> None:
    got = [(p.get("host_ip"), p.get("published"), p["target"]) for p in parse_port_spec(spec)]
    assert got == expected


@pytest.mark.parametrize("spec", ["80-81:90-92", "x:80", "70000", "8080:80-79"])
def test_bad_ports(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_port_spec(spec)


def test_volume_short_syntax() -> None:
    assert parse_volume_short("/data") == {"type": "volume", "target": "/data", "volume": {}}
    assert parse_volume_short("./src:/app:ro,z") == {
        "type": "bind", "source": "./src", "target": "/app", "read_only": True,
        "bind": {"create_host_path": True, "selinux": "z"}}
    assert parse_volume_short("cache:/c:nocopy") == {
        "type": "volume", "source": "cache", "target": "/c", "volume": {"nocopy": True}}
    with pytest.raises(ValueError):
        parse_volume_short("a:/b:bogus")


_keys = st.text(min_size=1, max_size=8)
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(max_size=20),
                     st.sampled_from(["1.0", "0x1f", "yes", "- a", "a: b", "#x", "x #y", "'q'",
                                      "\"d\"", "a\nb\n", "\ttab", "2024-01-02", "<<", "=",
                                      "line \nspace", "€uro", "\x07bell", "- ", "?", ":x"]))
_trees = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _trees, max_size=5))
def test_render_yaml_round_trips(data: dict) -> None:
    text = render_yaml(data)
    assert yaml.safe_load(text) == (data or {})
    loaded, _ = load_yaml(text, "x.yaml")
    assert (loaded or {}) == data


def test_false_flags_are_left_out_like_compose_go_omitempty(tmp_path: Path) -> None:
    from compose.config.canonical import render_project
    from tests.unit.config.helpers import load_in, write

    write(tmp_path, "compose.yaml", """
services:
  a:
    image: x
    privileged: false
    read_only: false
    tty: true
    stdin_open: false
    volumes:
      - {type: volume, source: v, target: /v, read_only: false, volume: {nocopy: false}}
    depends_on:
      b: {condition: service_started, restart: false}
  b:
    image: x
volumes:
  v: {}
networks:
  n: {internal: false, attachable: true}
""")
    doc = yaml.safe_load(render_project(load_in(tmp_path)))
    a = doc["services"]["a"]
    assert "privileged" not in a and "read_only" not in a and "stdin_open" not in a
    assert a["tty"] is True
    assert a["volumes"] == [{"type": "volume", "source": "v", "target": "/v", "volume": {}}]
    assert a["depends_on"] == {"b": {"condition": "service_started", "required": True}}
    assert doc["networks"]["n"]["attachable"] is True and "internal" not in doc["networks"]["n"]
