"""Tests for schema/compose-spec.json through validate_schema: coverage, corpus, unknown keys."""
from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from compose.config.positions import PositionMap
from compose.config.validation import validate_schema
from compose.config.yamlload import load_yaml
from compose.errors import ConfigError
from schema import load_compose_schema

DATA = Path(__file__).parent / "data"
CORPUS = Path("/work/shared/corpus")
EVERY_KEY = DATA / "every-key.yaml"


def corpus_files() -> list[Path]:
    patterns = ("*/compose.y*ml", "*/docker-compose.y*ml", "*/*/compose.y*ml",
                "*/*/docker-compose.y*ml")
    found = {p for pattern in patterns for p in CORPUS.glob(pattern)}
    return sorted(found)


def load(text: str) -> tuple[object, PositionMap]:
    return load_yaml(text, "compose.yaml")


def schema_error(text: str) -> ConfigError:
    data, positions = load(text)
    with pytest.raises(ConfigError) as info:
        validate_schema(data, "compose.yaml", positions)
    return info.value


def every_key() -> dict:
    data, positions = load_yaml(EVERY_KEY.read_text(), str(EVERY_KEY))
    assert isinstance(data, dict)
    return data


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(load_compose_schema())


def test_every_key_fixture_validates() -> None:
    data, positions = load_yaml(EVERY_KEY.read_text(), str(EVERY_KEY))
    validate_schema(data, str(EVERY_KEY), positions)


def _props(name: str) -> set[str]:
    node = load_compose_schema()["$defs"][name]
    for alt in node.get("oneOf", [node]):
        if "properties" in alt:
            return set(alt["properties"])
    raise AssertionError(f"no properties in {name}")


def _keys(objects: list[dict]) -> set[str]:
    return {k for obj in objects if isinstance(obj, dict) for k in obj}


@pytest.mark.parametrize(
    ("definition", "pick"),
    [
        ("service", lambda d: list(d["services"].values())),
        ("build", lambda d: [s.get("build") for s in d["services"].values()]),
        ("deploy", lambda d: [d["services"]["web"]["deploy"]]),
        ("healthcheck", lambda d: [d["services"]["web"]["healthcheck"]]),
        ("service_volume", lambda d: d["services"]["web"]["volumes"]),
        ("port", lambda d: d["services"]["web"]["ports"]),
        ("service_network", lambda d: list(d["services"]["web"]["networks"].values())),
        ("network", lambda d: list(d["networks"].values())),
        ("volume", lambda d: list(d["volumes"].values())),
        ("secret", lambda d: list(d["secrets"].values())),
        ("config", lambda d: list(d["configs"].values())),
        ("model", lambda d: list(d["models"].values())),
        ("include", lambda d: d["include"]),
        ("pre_start_hook", lambda d: d["services"]["web"]["pre_start"]),
        ("update_config", lambda d: [d["services"]["web"]["deploy"]["update_config"]]),
    ],
)
def test_fixture_uses_every_key_of(definition: str, pick) -> None:  # type: ignore[no-untyped-def]
    missing = _props(definition) - _keys(pick(every_key()))
    assert not missing, f"every-key.yaml lacks {definition} keys {sorted(missing)}"


def test_fixture_uses_every_top_level_key() -> None:
    assert set(load_compose_schema()["properties"]) <= set(every_key())


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_file_validates(path: Path) -> None:
    data, positions = load_yaml(path.read_text(), str(path))
    validate_schema(data, str(path), positions)


def test_corpus_is_present() -> None:
    assert len(corpus_files()) >= 30


def test_unknown_top_level_key() -> None:
    err = schema_error("services: {}\nservces: {}\n")
    assert (err.line, err.column) == (2, 1)
    assert err.message == "additional property 'servces' is not allowed (did you mean 'services'?)"


def test_unknown_service_key_names_the_service_and_suggests() -> None:
    err = schema_error("services:\n  web:\n    image: x\n    imagee: y\n")
    assert (err.file, err.line, err.column) == ("compose.yaml", 4, 5)
    assert err.message == (
        "services.web: additional property 'imagee' is not allowed (did you mean 'image'?)"
    )
    assert str(err) == f"compose.yaml:4:5: {err.message}"


@pytest.mark.parametrize(
    ("text", "line", "where"),
    [
        ("services:\n  web:\n    build:\n      context: .\n      contxt: .\n", 5,
         "services.web.build"),
        ("services:\n  web:\n    deploy:\n      resources:\n        limits:\n          mem: 1\n",
         6, "services.web.deploy.resources.limits"),
        ("services:\n  web:\n    ports:\n      - target: 80\n        publish: 8080\n", 5,
         "services.web.ports[0]"),
        ("services:\n  web:\n    volumes:\n      - type: bind\n        source: .\n"
         "        target: /x\n        bind:\n          propogation: rshared\n", 8,
         "services.web.volumes[0].bind"),
        ("services:\n  web:\n    healthcheck:\n      tset: [CMD, true]\n", 4,
         "services.web.healthcheck"),
        ("networks:\n  n:\n    ipam:\n      config:\n        - subnet: 10.0.0.0/8\n"
         "          gw: 10.0.0.1\n", 6, "networks.n.ipam.config[0]"),
        ("volumes:\n  v:\n    drivr: local\n", 3, "volumes.v"),
        ("secrets:\n  s:\n    fil: ./x\n", 3, "secrets.s"),
        ("services:\n  web:\n    depends_on:\n      db:\n        conditon: service_started\n"
         "  db: {}\n", 5, "services.web.depends_on.db"),
    ],
)
def test_unknown_nested_keys_rejected(text: str, line: int, where: str) -> None:
    err = schema_error(text)
    assert err.line == line
    assert err.message.startswith(f"{where}: additional property")
    assert err.key_path == where


def test_extensions_accepted_where_objects_allow_them() -> None:
    data, positions = load(
        "x-top: 1\nservices:\n  web:\n    x-a: 1\n    build:\n      x-b: 2\n"
        "    deploy:\n      x-c: 3\n    ports:\n      - target: 80\n        x-d: 4\n"
        "networks:\n  n:\n    x-e: 5\nvolumes:\n  v:\n    x-f: 6\n"
    )
    validate_schema(data, "compose.yaml", positions)


def test_interpolated_strings_accepted_for_numbers_and_booleans() -> None:
    data, positions = load(
        "services:\n  web:\n    cpus: '${CPUS}'\n    scale: '2'\n    privileged: 'true'\n"
        "    ulimits:\n      nofile: '1024'\n    ports:\n      - target: '80'\n"
        "        published: '${PORT:-8080}'\n    mem_limit: '${MEM}'\n"
    )
    validate_schema(data, "compose.yaml", positions)


def test_port_of_wrong_type() -> None:
    err = schema_error("services:\n  web:\n    ports:\n      - 80\n      - true\n")
    assert (err.line, err.column) == (5, 9)
    assert err.message == "services.web.ports[1]: must be a number, a string or a mapping"


def test_depends_on_condition_enum() -> None:
    err = schema_error(
        "services:\n  web:\n    depends_on:\n      db:\n        condition: healthy\n  db: {}\n"
    )
    assert err.line == 5
    assert err.message == (
        "services.web.depends_on.db.condition: must be one of service_started, "
        "service_healthy, service_completed_successfully"
    )


def test_missing_required_key() -> None:
    err = schema_error("services:\n  web:\n    ulimits:\n      nofile:\n        soft: 1\n")
    assert err.line == 4
    assert err.message == "services.web.ulimits.nofile: missing required key 'hard'"


def test_invalid_service_name() -> None:
    err = schema_error("services:\n  web: {}\n  'my web': {}\n")
    assert err.line == 3
    assert "'my web' is not a valid name" in err.message


def test_duration_must_be_a_string() -> None:
    err = schema_error("services:\n  web:\n    healthcheck:\n      interval: 10\n")
    assert err.line == 4
    assert err.message.endswith("must be a duration such as 10s or 1m30s")


def test_one_of_with_no_fitting_branch_lists_the_accepted_forms() -> None:
    err = schema_error("services:\n  web:\n    gpus: some\n")
    assert err.message == "services.web.gpus: must be 'all' or a list of device requests"
    err = schema_error("services:\n  web:\n    build: 5\n")
    assert err.message == "services.web.build: must be a string or a mapping"


def test_error_reported_is_the_first_in_the_file() -> None:
    err = schema_error("services:\n  a:\n    imag: x\n  b:\n    imag: y\nfoo: 1\n")
    assert err.line == 3


def test_top_level_must_be_a_mapping() -> None:
    err = schema_error("- a\n- b\n")
    assert "top level must be a mapping" in err.message


def test_reset_and_override_values_validate_as_their_content() -> None:
    data, positions = load(
        "services:\n  web:\n    ports: !override ['80:80']\n    volumes: !reset []\n"
    )
    validate_schema(data, "compose.yaml", positions)
    err = schema_error("services:\n  web:\n    ports: !override {a: 1}\n")
    assert err.message == "services.web.ports: must be a list"


# --- robustness: mutated corpus data never produces anything but a clean ConfigError ---------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=False),
    st.text(max_size=12), st.sampled_from(["80:80", "1m", "x-a", "service:web", "${X}"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3),
    ),
    max_leaves=8,
)


def _paths(data: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.extend(_paths(v, prefix + (i,)))
    return out


def _replace(data: object, path: tuple, value: object) -> object:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {k: (_replace(v, rest, value) if k == head else v) for k, v in data.items()}
    assert isinstance(data, list)
    return [(_replace(v, rest, value) if i == head else v) for i, v in enumerate(data)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_corpus_gives_clean_errors(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(corpus_files() + [EVERY_KEY]))
    doc, positions = load_yaml(path.read_text(), str(path))
    target = data.draw(st.sampled_from(_paths(doc)))
    mutated = _replace(doc, target, data.draw(_VALUES))
    try:
        validate_schema(mutated, str(path), positions)
    except ConfigError as err:
        assert err.message and "\n" not in err.message
        assert err.file == str(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_schema_valid_mutations_pass_semantics_cleanly(data: st.DataObject) -> None:
    from compose.config.validation import check_semantics

    path = data.draw(st.sampled_from(corpus_files() + [EVERY_KEY]))
    doc, positions = load_yaml(path.read_text(), str(path))
    target = data.draw(st.sampled_from(_paths(doc)))
    mutated = _replace(doc, target, data.draw(_VALUES))
    try:
        validate_schema(mutated, str(path), positions)
    except ConfigError:
        return
    assert isinstance(mutated, dict)
    try:
        check_semantics(mutated, positions)
    except ConfigError as err:
        assert err.message and "\n" not in err.message


def test_obsolete_version_accepted_as_string_or_number() -> None:
    for value in ("'3.8'", "3.8", "3"):
        data, positions = load(f"version: {value}\nservices: {{}}\n")
        validate_schema(data, "compose.yaml", positions)


def test_yaml_1_1_booleans_stay_strings_and_validate_where_strings_are_allowed() -> None:
    data, positions = load("services:\n  web:\n    restart: no\n    environment:\n      A: yes\n")
    validate_schema(data, "compose.yaml", positions)
    assert isinstance(data, dict)
    assert data["services"]["web"] == {"restart": "no", "environment": {"A": "yes"}}


def test_schema_has_no_one_of_and_a_one_of_error_would_still_be_described() -> None:
    import json

    from compose.config.validation import _describe

    assert '"oneOf"' not in json.dumps(load_compose_schema())
    schema = {"oneOf": [{"type": "string"},
                        {"type": "object", "properties": {"a": {"type": "integer"}},
                         "additionalProperties": False}]}
    (error,) = Draft202012Validator(schema).iter_errors({"a": 1, "b": 2})
    path, where, message = _describe(error)
    assert path == ("b",) and message.startswith("additional property 'b' is not allowed")
