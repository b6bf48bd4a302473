"""Interpolation forms, escapes, errors and warnings."""
from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compose.config.interpolation import InterpolationError, interpolate_data, substitute
from compose.config.positions import Position
from compose.errors import ConfigError

ENV = {"SET": "value", "EMPTY": "", "NUM": "3", "B": "bee"}


def sub(text: str) -> str:
    return substitute(text, ENV.get)


@pytest.mark.parametrize(("template", "expected"), [
    ("$SET", "value"),
    ("${SET}", "value"),
    ("pre-${SET}-post", "pre-value-post"),
    ("$SET.txt", "value.txt"),
    ("${UNSET:-dflt}", "dflt"),
    ("${EMPTY:-dflt}", "dflt"),
    ("${SET:-dflt}", "value"),
    ("${UNSET-dflt}", "dflt"),
    ("${EMPTY-dflt}", ""),
    ("${SET:+alt}", "alt"),
    ("${EMPTY:+alt}", ""),
    ("${UNSET:+alt}", ""),
    ("${SET+alt}", "alt"),
    ("${EMPTY+alt}", "alt"),
    ("${UNSET+alt}", ""),
    ("${SET:?boom}", "value"),
    ("${EMPTY?boom}", ""),
    ("$$SET", "$SET"),
    ("$${SET}", "${SET}"),
    ("a $$ b", "a $ b"),
    ("${UNSET:-${B}}", "bee"),
    ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
    ("${UNSET:-x${NUM}y}", "x3y"),
    ("${UNSET:-}", ""),
    ("${UNSET:-a:b/c}", "a:b/c"),
    ("no vars", "no vars"),
    # compose-go leaves a '$' that starts no reference alone (shell syntax in commands/hooks)
    ("$", "$"),
    ("cost 5$", "cost 5$"),
    ("$-", "$-"),
    ("echo $(seq 3) $1 $@ $? $#", "echo $(seq 3) $1 $@ $? $#"),
    ("RUN echo $HOME-$(id -u)", "RUN echo -$(id -u)"),
])
def test_forms(template: str, expected: str) -> None:
    assert sub(template) == expected


@pytest.mark.parametrize("template", ["${UNSET:?boom}", "${EMPTY:?boom}", "${UNSET?boom}"])
def test_required_variable_errors_name_it(template: str) -> None:
    with pytest.raises(InterpolationError) as info:
        sub(template)
    assert info.value.variable in ("UNSET", "EMPTY")
    assert "boom" in str(info.value)


@pytest.mark.parametrize("template", ["${", "${SET", "${1A}", "${SET%x}", "a ${} b"])
def test_malformed_templates_are_errors(template: str) -> None:
    with pytest.raises(InterpolationError):
        sub(template)


def test_unset_variable_becomes_blank_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        out = interpolate_data({"a": "$NOPE", "b": ["${NOPE}"]}, {}, "f.yaml", {})
    assert out == {"a": "", "b": [""]}
    warnings = [r for r in caplog.records if "NOPE" in r.getMessage()]
    assert len(warnings) == 1
    assert "not set" in warnings[0].getMessage()


def test_keys_are_never_interpolated() -> None:
    out = interpolate_data({"${SET}": "$SET"}, ENV, "f.yaml", {})
    assert out == {"${SET}": "value"}


def test_typed_fields_are_cast_back() -> None:
    data = {"services": {"a": {"scale": "$NUM", "privileged": "${T:-true}", "cpus": "${C:-0.5}",
                               "image": "$NUM"}}}
    out = interpolate_data(data, ENV, "f.yaml", {})
    svc = out["services"]["a"]
    assert svc == {"scale": 3, "privileged": True, "cpus": 0.5, "image": "3"}


def test_error_names_file_line_key_path_and_variable() -> None:
    positions = {("services", "web", "image"): Position("c.yaml", 4, 12)}
    data = {"services": {"web": {"image": "${TAG:?set TAG first}"}}}
    with pytest.raises(ConfigError) as info:
        interpolate_data(data, {}, "c.yaml", positions)
    err = info.value
    assert (err.file, err.line, err.column) == ("c.yaml", 4, 12)
    assert err.key_path == "services.web.image"
    assert "TAG" in err.message and "set TAG first" in err.message


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("SET_B${}:-?+ab")), max_size=30))
def test_substitute_only_raises_interpolation_errors(template: str) -> None:
    try:
        result = sub(template)
    except InterpolationError:
        return
    assert isinstance(result, str)


def test_project_name_is_in_the_interpolation_environment(tmp_path) -> None:
    from tests.unit.config.helpers import load_in, write

    write(tmp_path, "compose.yaml", """
        name: ${PREFIX:-demo}-app
        services:
          a:
            image: "busybox:${COMPOSE_PROJECT_NAME}"
            labels: {p: $COMPOSE_PROJECT_NAME}
    """)
    project = load_in(tmp_path)
    assert project.services["a"].image == "busybox:demo-app"
    assert project.services["a"].labels["p"] == "demo-app"
    # -p and COMPOSE_PROJECT_NAME decide the name, and so the value
    assert load_in(tmp_path, project_name="cli").services["a"].image == "busybox:cli"
    env = {"COMPOSE_PROJECT_NAME": "fromenv"}
    assert load_in(tmp_path, env).services["a"].labels["p"] == "fromenv"
    # without a name anywhere: the directory's name, normalized
    write(tmp_path / "My.Dir", "compose.yaml", """
        services:
          a: {image: "x", labels: {p: "${COMPOSE_PROJECT_NAME}"}}
    """)
    assert load_in(tmp_path / "My.Dir").services["a"].labels["p"] == "mydir"


def test_dockerfile_inline_and_hooks_keep_shell_syntax(tmp_path) -> None:
    from tests.unit.config.helpers import load_in, write

    write(tmp_path, "compose.yaml", """
        services:
          a:
            build:
              context: .
              dockerfile_inline: |
                FROM busybox
                RUN echo $$HOME $(id -u) $1 > /x
            post_start:
              - command: sh -c 'echo $(date) $$PATH > /tmp/started'
    """)
    svc = load_in(tmp_path).services["a"]
    assert svc.build is not None
    assert svc.build.dockerfile_inline == "FROM busybox\nRUN echo $HOME $(id -u) $1 > /x\n"
    assert svc.raw["post_start"][0]["command"] == ["sh", "-c", "echo $(date) $PATH > /tmp/started"]
