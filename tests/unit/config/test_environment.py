"""The .env parser and env-file precedence."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose.config.environment import parse_dotenv, project_environment, read_env_file
from compose.errors import ConfigError


def parse(text: str, env: dict[str, str] | None = None) -> dict[str, str]:
    return parse_dotenv(text, ".env", (env or {}).get)


def test_basic_forms() -> None:
    text = "\n".join([
        "# comment",
        "A=1",
        "export B=two",
        "C = spaced  ",
        "D=inline # comment",
        "E=no#comment",
        "F='single $A \\n'",
        'G="double $A\\nnext"',
        "H=",
        "",
        "I=${A}-${UNSET:-d}",
    ])
    assert parse(text) == {
        "A": "1", "B": "two", "C": "spaced", "D": "inline", "E": "no#comment",
        "F": "single $A \\n", "G": "double 1\nnext", "H": "", "I": "1-d",
    }


def test_multiline_double_quoted_value_and_line_counting() -> None:
    out = parse('A="line1\nline2"\nB=after\n')
    assert out == {"A": "line1\nline2", "B": "after"}
    with pytest.raises(ConfigError) as info:
        parse('A="ok"\nB="multi\nline\nC=3\n')
    assert info.value.line == 2
    assert "unterminated" in info.value.message


def test_process_environment_wins_inside_dotenv_references() -> None:
    out = parse("A=file\nB=$A", {"A": "process"})
    assert out == {"A": "file", "B": "process"}


def test_bare_key_inherits_from_environment_or_is_skipped() -> None:
    assert parse("A\nB", {"A": "from-env"}) == {"A": "from-env"}


def test_escaped_dollar_and_double_dollar() -> None:
    assert parse('A="\\$X"\nB=$$Y') == {"A": "$X", "B": "$Y"}


def test_invalid_line_reports_its_number() -> None:
    with pytest.raises(ConfigError) as info:
        parse("A=1\n\n=oops\n")
    assert info.value.line == 3


def test_raw_format_keeps_values_literally(tmp_path: Path) -> None:
    path = tmp_path / "raw.env"
    path.write_text("A='quoted $X'\n# c\nB=x # y\n")
    assert read_env_file(path, None, "raw") == {"A": "'quoted $X'", "B": "x # y"}


def test_missing_env_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_env_file(tmp_path / "nope.env")


def test_project_environment_precedence(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=dotenv\nB=dotenv\n")
    env = project_environment({"A": "process"}, [], tmp_path)
    assert env["A"] == "process" and env["B"] == "dotenv"
    one, two = tmp_path / "one.env", tmp_path / "two.env"
    one.write_text("B=one\nC=one\n")
    two.write_text("C=two\nD=${B}-${C}\n")
    env = project_environment({}, [one, two], tmp_path)
    # --env-file replaces .env; later files win and see earlier values
    assert env == {"B": "one", "C": "two", "D": "one-two"}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("AB_=$ {}:-?+'\"\\#\n\texport0")), max_size=40))
def test_parser_never_crashes(text: str) -> None:
    try:
        parse(text, {"A": "1"})
    except ConfigError as exc:
        assert exc.line is not None and exc.line >= 1
