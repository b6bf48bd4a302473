"""Tests for compose.config.yamlload: scalars, anchors, merge keys, tags, errors, positions."""
from __future__ import annotations

import math

import pytest

from compose.config.positions import Position, format_key_path
from compose.config.yamlload import RESET, Override, Reset, load_yaml, load_yaml_documents
from compose.errors import ConfigError


def load(text: str) -> object:
    return load_yaml(text, "c.yaml")[0]


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_yaml(text, "c.yaml")
    return info.value


@pytest.mark.parametrize(
    ("plain", "expected"),
    [
        ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("y", "y"),
        ("true", True), ("True", True), ("FALSE", False),
        ("~", None), ("null", None), ("", None),
        ("42", 42), ("-7", -7), ("0x1F", 31), ("0o17", 15), ("0755", 493), ("1_000", 1000),
        ("0b101", 5), ("1.5", 1.5), ("1e3", 1000.0), (".5", 0.5), ("1:30", "1:30"),
        ("2001-12-14", "2001-12-14"), ("1.2.3", "1.2.3"), ("0.0.0.0", "0.0.0.0"),
        ("8080:80", "8080:80"), ("-a", "-a"), ("+", "+"), (".", "."),
    ],
)
def test_plain_scalars_follow_yaml_1_2_like_compose(plain: str, expected: object) -> None:
    assert load(f"v: {plain}\n") == {"v": expected}


def test_quoted_scalars_stay_strings() -> None:
    assert load("a: '1'\nb: \"true\"\nc: 'null'\n") == {"a": "1", "b": "true", "c": "null"}


def test_special_floats_and_explicit_tags() -> None:
    data = load("a: .inf\nb: -.Inf\nc: .nan\nd: !!str 5\ne: !!int '7'\nf: !!float 2\n")
    assert isinstance(data, dict)
    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])
    assert data["d"] == "5" and data["e"] == 7 and data["f"] == 2.0


def test_explicit_tag_that_does_not_fit_is_an_error() -> None:
    err = error("a: !!int hello\n")
    assert (err.line, err.column) == (1, 4)


def test_mapping_keys_are_strings() -> None:
    assert load("1: a\ntrue: b\n1.5: c\n") == {"1": "a", "true": "b", "1.5": "c"}


def test_anchor_alias_and_merge_keys() -> None:
    text = (
        "x-a: &a {image: a, restart: always}\n"
        "x-b: &b {image: b, user: me}\n"
        "services:\n"
        "  one:\n"
        "    <<: [*a, *b]\n"
        "  two:\n"
        "    <<: *a\n"
        "    image: own\n"
        "  three: *b\n"
    )
    data, pos = load_yaml(text, "c.yaml")
    services = data["services"]
    assert services["one"] == {"image": "a", "restart": "always", "user": "me"}
    assert services["two"] == {"image": "own", "restart": "always"}
    assert services["three"] == {"image": "b", "user": "me"}
    # values from aliases are independent copies
    services["three"]["image"] = "changed"
    assert data["x-b"]["image"] == "b"
    # merged keys point at where they were written; explicit keys at their own line
    assert pos[("services", "one", "user")] == Position("c.yaml", 2, 20)
    assert pos[("services", "two", "image")] == Position("c.yaml", 8, 5)
    assert pos[("services", "two", "restart")] == Position("c.yaml", 1, 20)
    assert ("services", "two", "user") not in pos


def test_merge_key_needs_a_mapping() -> None:
    err = error("a: &x [1]\nb:\n  <<: *x\n")
    assert "merge key" in err.message and err.line == 1


def test_positions_of_keys_and_items() -> None:
    text = "services:\n  web:\n    ports:\n      - 80:80\n      - target: 81\n"
    _, pos = load_yaml(text, "f.yml")
    assert pos[("services",)] == Position("f.yml", 1, 1)
    assert pos[("services", "web")] == Position("f.yml", 2, 3)
    assert pos[("services", "web", "ports", 0)] == Position("f.yml", 4, 9)
    assert pos[("services", "web", "ports", 1, "target")] == Position("f.yml", 5, 9)


def test_format_key_path() -> None:
    assert format_key_path(("services", "web", "ports", 0, "target")) == (
        "services.web.ports[0].target"
    )
    assert format_key_path(()) == ""


def test_reset_and_override_tags_on_every_node_kind() -> None:
    data = load(
        "a: !reset []\nb: !reset {}\nc: !reset\nd: !reset x\n"
        "e: !override [1, '2']\nf: !override {k: v}\ng: !override 3\nh: !override '3'\n"
    )
    assert isinstance(data, dict)
    assert all(data[k] is RESET for k in "abcd")
    assert isinstance(RESET, Reset) and Reset() is RESET
    assert data["e"] == Override([1, "2"])
    assert data["f"] == Override({"k": "v"})
    assert data["g"] == Override(3) and data["h"] == Override("3")


def test_duplicate_key_names_file_line_column_and_path() -> None:
    err = error("services:\n  web:\n    image: a\n    image: b\n")
    assert (err.file, err.line, err.column) == ("c.yaml", 4, 5)
    assert err.key_path == "services.web.image"
    assert "duplicate key 'image'" in err.message and "line 3" in err.message


def test_duplicate_service_is_an_error() -> None:
    err = error("services:\n  web: {}\n  db: {}\n  web: {}\n")
    assert err.line == 4 and err.key_path == "services.web"


def test_syntax_error_has_line_column_and_problem() -> None:
    err = error("services:\n  web:\n    image: a: b\n")
    assert (err.line, err.column) == (3, 13)
    assert err.message.startswith("invalid YAML: mapping values are not allowed")
    assert "\n" not in str(err)


def test_unclosed_flow_sequence() -> None:
    err = error("services:\n  web:\n    ports: [80\n")
    assert err.line is not None and err.line >= 3


def test_tab_indentation_is_a_clean_error() -> None:
    err = error("services:\n\tweb: {}\n")
    assert err.line == 2


def test_unknown_tag_rejected() -> None:
    err = error("a:\n  b: !env HOME\n")
    assert (err.line, err.column, err.key_path) == (2, 6, "a.b")


def test_recursive_alias_rejected() -> None:
    err = error("a: &x\n  - *x\n")
    assert "alias" in err.message


def test_alias_bomb_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    import compose.config.yamlload as yl

    monkeypatch.setattr(yl, "MAX_VALUES", 1000)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 6):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    err = error("\n".join(lines) + "\n")
    assert "too many values" in err.message


def test_empty_and_comment_only_files_are_none() -> None:
    assert load_yaml("", "c.yaml") == (None, {})
    assert load_yaml("# nothing\n", "c.yaml") == (None, {})


def test_several_documents() -> None:
    assert [d for d, _ in load_yaml_documents("a: 1\n---\nb: 2\n", "c.yaml")] == [
        {"a": 1}, {"b": 2}
    ]
    err = error("a: 1\n---\nb: 2\n")
    assert "more than one YAML document" in err.message and err.line == 3


def test_non_scalar_key_rejected() -> None:
    err = error("? [a, b]\n: c\n")
    assert err.line == 1


# --- robustness: arbitrary text is either data or one clean ConfigError ---------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_YAMLISH = st.lists(
    st.sampled_from(list("ab1:- \n\t'\"[]{},&*!<>#|%@`?~.\\")
                    + ["<<", "&a ", "*a", "!reset", "!!int ", "\n  ", "x: ", "- "]),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_YAMLISH)
def test_arbitrary_text_never_raises_anything_but_config_error(text: str) -> None:
    try:
        load_yaml(text, "fuzz.yaml")
    except ConfigError as err:
        assert err.file == "fuzz.yaml"
        assert "\n" not in err.message


def test_pure_python_composer_gives_the_same_data_and_positions() -> None:
    from pathlib import Path

    import compose.config.yamlload as yl

    paths = sorted(Path("/work/shared/corpus").glob("*/*/compose.y*ml"))
    paths.append(Path(__file__).parent / "data" / "every-key.yaml")
    for path in paths:
        text = path.read_text()
        assert yl.load_yaml_documents(text, "f", yl._PyLoader) == yl.load_yaml_documents(
            text, "f"
        ), path


def test_pure_python_composer_reports_syntax_errors_alike() -> None:
    import compose.config.yamlload as yl

    for text in ("a: b: c\n", "a: [\n", "a:\n\t- b\n"):
        errors = []
        for loader in (yl._PyLoader, None):
            with pytest.raises(ConfigError) as info:
                yl.load_yaml_documents(text, "f", loader)
            errors.append((info.value.line, info.value.column))
        assert errors[0] == errors[1], text


def test_libyaml_composer_is_used_when_pyyaml_has_it() -> None:
    import yaml

    import compose.config.yamlload as yl

    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML built without libyaml")
    assert yl._Loader is not yl._PyLoader


def test_format_key_path_quotes_odd_keys() -> None:
    assert format_key_path(("services", "my web", "environment", "\n")) == (
        'services["my web"].environment["\\n"]'
    )
    assert format_key_path(("labels", "com.example.a")) == "labels.com.example.a"
    assert format_key_path(("", 0)) == '[""][0]'


def test_forbidden_character_is_located() -> None:
    err = error("a: 1\nb: x\x00y\n")
    assert (err.line, err.column) == (2, 5)
    assert "not allowed" in err.message


def test_bom_and_crlf_line_endings() -> None:
    data, pos = load_yaml("\ufeffservices:\r\n  web:\r\n    image: x\r\n", "c.yaml")
    assert data == {"services": {"web": {"image": "x"}}}
    assert pos[("services", "web", "image")] == Position("c.yaml", 3, 5)


def test_document_marker_only_is_empty() -> None:
    assert load_yaml("---\n", "c.yaml") == (None, {})


def test_pyyaml_is_loaded_without_compiling_its_printable_check() -> None:
    """compose.config.pyyaml defers PyYAML's NON_PRINTABLE pattern (~4 ms at import) to its
    first use; the pure-Python reader still refuses a control character, and nothing else
    of ``re`` is changed."""
    import subprocess
    import sys

    code = """
import re
real = re.compile
import compose.config.yamlload
import yaml, yaml.reader
assert re.compile is real
assert type(yaml.reader.Reader.NON_PRINTABLE).__name__ == "CompiledOnUse"
try:
    yaml.load("a: b\\x07", Loader=yaml.SafeLoader)
except yaml.reader.ReaderError as exc:
    assert "special characters are not allowed" in str(exc)
else:
    raise AssertionError("accepted")
assert yaml.safe_load("a: é") == {"a": "é"}
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.stdout == "ok\n", proc.stderr
