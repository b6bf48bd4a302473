"""The schema walk: every key path of schema/compose-spec.json is handled, without effect (and
warned about) or rejected with its message, in one table (compose/config/support_table.py),
which is also the README's "Not supported" section."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compose.config.support import markdown
from compose.config.support_table import HANDLED, NO_EFFECT, REJECTED, VALUE_RULES
from compose.errors import ConfigError
from compose.orchestrator.translate import HANDLED_KEYS
from schema import load_compose_schema
from tests.unit.config.helpers import load_in, write

README = Path(__file__).resolve().parents[3] / "README.md"


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _alternatives(node: Any, defs: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(node, defs)
    out = [node]
    for key in ("oneOf", "anyOf", "allOf"):
        for alt in node.get(key, ()):
            out += _alternatives(alt, defs)
    return out


def _has_properties(node: Any, defs: dict[str, Any]) -> bool:
    return any(a.get("properties") for a in _alternatives(node, defs))


def schema_paths(node: Any, defs: dict[str, Any], path: tuple[str, ...] = ()
                 ) -> Iterator[str]:
    """Every key path the schema defines: named properties, ``*`` for mappings whose values
    have properties of their own, ``[]`` for lists of such objects (extensions excluded)."""
    if path:
        yield ".".join(path)
    for alt in _alternatives(node, defs):
        for key, sub in (alt.get("properties") or {}).items():
            yield from schema_paths(sub, defs, path + (key,))
        maps = [v for k, v in (alt.get("patternProperties") or {}).items() if k != "^x-"]
        extra = alt.get("additionalProperties")
        maps += [extra] if isinstance(extra, dict) else []
        for sub in maps:
            if _has_properties(sub, defs):
                yield from schema_paths(sub, defs, path + ("*",))
        items = alt.get("items")
        if isinstance(items, dict) and _has_properties(items, defs):
            yield from schema_paths(items, defs, path + ("[]",))


@pytest.fixture(scope="module")
def paths() -> set[str]:
    schema = load_compose_schema()
    return set(schema_paths(schema, schema["$defs"]))


def _covering(path: str) -> list[str]:
    """The tables that decide ``path``: exact entries, and rejected/no-effect ancestors."""
    found = []
    parts = path.split(".")
    if path in HANDLED:
        found.append("HANDLED")
    for table, name in ((REJECTED, "REJECTED"), (NO_EFFECT, "NO_EFFECT")):
        if any(".".join(parts[:n]) in table for n in range(1, len(parts) + 1)):
            found.append(name)
    return found


def test_schema_walk_finds_the_whole_schema(paths: set[str]) -> None:
    assert len(paths) > 350
    for sample in ("services.*.build.ssh", "services.*.volumes.[].image.subpath",
                   "networks.*.ipam.config.[].subnet", "services.*.post_start.[].command"):
        assert sample in paths


def test_every_schema_key_is_in_exactly_one_table(paths: set[str]) -> None:
    missing = sorted(p for p in paths if not _covering(p))
    assert not missing, f"keys neither handled nor rejected: {missing}"
    doubled = sorted(p for p in paths if len(_covering(p)) > 1)
    assert not doubled, f"keys in more than one table: {doubled}"


def test_every_table_entry_is_a_schema_key(paths: set[str]) -> None:
    stale = sorted((HANDLED | set(REJECTED) | set(NO_EFFECT)) - paths)
    assert not stale, f"table entries the schema does not define: {stale}"
    for rule in VALUE_RULES:
        assert rule.path in HANDLED, rule.path
    for reason in (*REJECTED.values(), *NO_EFFECT.values(), *(r.reason for r in VALUE_RULES)):
        assert reason and not reason.endswith(".")


def test_translation_knows_every_handled_service_key() -> None:
    loader_only = {"extends", "env_file", "label_file", "profiles"}
    top = {p.split(".")[2] for p in HANDLED if re.fullmatch(r"services\.\*\.[a-z_]+", p)}
    assert top - loader_only <= HANDLED_KEYS
    rejected_top = {p.split(".")[2] for p in REJECTED if p.count(".") == 2}
    assert not rejected_top & HANDLED_KEYS


def test_readme_section_is_generated_from_the_table() -> None:
    text = README.read_text()
    begin, end = "<!-- support-table:begin -->\n", "<!-- support-table:end -->"
    assert begin in text and end in text, "README lacks the generated support section"
    section = text.split(begin, 1)[1].split(end, 1)[0]
    assert section == markdown(), "README is stale: python -m compose.config.support"
    for path in REJECTED:
        assert f"`{path}`" in section


@pytest.mark.parametrize(("snippet", "line", "needle"), [
    ("build: {context: ., ssh: [default]}", 4, "build.ssh"),
    ("build:\n      context: .\n      secrets: [{source: s, mode: 0400}]", 6,
     "build.secrets[0].mode"),
    ("build:\n      context: .\n      cache_to: [type=local]", 6, "build.cache_to"),
    ("build:\n      context: .\n      platforms: [linux/arm64]", 6, "build.platforms[0]"),
    ("logging:\n      driver: syslog", 5, "logging.driver"),
    ("security_opt: ['apparmor=docker-default']", 4, "security_opt[0]"),
    ("volumes:\n      - type: npipe\n        source: x\n        target: /y", 5, "volumes[0].type"),
    ("ports: ['80/sctp']", 4, "ports[0].protocol"),
    ("gpus: all", 4, "gpus"),
    ("pre_stop:\n      - command: echo\n        privileged: true", 6, "pre_stop[0].privileged"),
    ("pre_start:\n      - command: echo", 4, "pre_start"),
])
def test_rejections_name_file_line_service_and_key(tmp_path: Path, snippet: str, line: int,
                                                   needle: str) -> None:
    path = write(tmp_path, "compose.yaml", "services:\n  web:\n    image: x\n    "
                 + snippet + "\n  other:\n    image: y\nsecrets:\n  s: {file: ./s}\n")
    project = load_in(tmp_path)  # loading (config, ps, down) still works
    project.require_supported(["other"])  # another service is not concerned
    with pytest.raises(ConfigError) as info:
        project.require_supported(["web"])
    err = info.value
    assert (err.file, err.line) == (str(path), line), str(err)
    assert needle in err.message and "'web'" in err.message and "not supported" in err.message
    assert err.key_path and err.key_path.startswith("services.web.")


def test_build_section_check_ignores_runtime_keys(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          web:
            build: .
            gpus: all
    """)
    project = load_in(tmp_path)
    project.require_supported(["web"], section="build")
    with pytest.raises(ConfigError, match="gpus"):
        project.require_supported(["web"])


def test_no_effect_keys_warn_and_pass(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          web:
            image: x
            volumes:
              - {type: bind, source: ., target: /a, consistency: cached}
              - ./b:/b:z
            deploy:
              placement: {constraints: ["node.role==manager"]}
    """)
    project = load_in(tmp_path)
    project.require_supported(["web"])
    text = caplog.text
    assert "compose.yaml:6" in text and "consistency" in text
    assert "compose.yaml:7" in text and "selinux" in text
    assert "compose.yaml:9" in text and "deploy.placement" in text and "swarm" in text


def test_provider_service_loads_and_is_refused_at_up(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          ai:
            provider:
              type: model
              options: {model: ai/smollm2}
          app:
            image: x
            depends_on: [ai]
    """)
    project = load_in(tmp_path)
    assert project.services["ai"].image is None
    assert "networks" not in project.raw["services"]["ai"]
    with pytest.raises(ConfigError) as info:
        project.require_supported(["ai", "app"])
    assert info.value.line == 4 and "provider" in info.value.message
