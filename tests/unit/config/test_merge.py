"""The merge rules for several compose files, through the whole loader."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.config.merge import merge_documents
from compose.config.model import Project

from .helpers import load_in, write

BASE = """
services:
  web:
    image: nginx
    command: ["nginx", "-g", "daemon off;"]
    entrypoint: /entry.sh
    environment: [A=1, B=2]
    labels: {one: "1"}
    ports: ["8080:80", "443:443"]
    volumes: ["./a:/data", "logs:/logs"]
    dns: [1.1.1.1]
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
    secrets: [s1]
    extra_hosts: ["db:10.0.0.1"]
    depends_on: [db]
  db:
    image: postgres
secrets:
  s1: {file: ./s1.txt}
volumes:
  logs: {}
"""


def merged(tmp_path: Path, override: str) -> Project:
    write(tmp_path, "compose.yaml", BASE)
    write(tmp_path, "compose.override.yaml", override)
    return load_in(tmp_path)


def test_scalars_replace_and_command_entrypoint_replace(tmp_path: Path) -> None:
    web = merged(tmp_path, """
        services:
          web:
            image: nginx:2
            command: echo hi
            entrypoint: ["/other"]
    """).services["web"]
    assert web.image == "nginx:2"
    assert web.command == ("echo", "hi")
    assert web.entrypoint == ("/other",)


def test_environment_and_labels_merge_as_maps_across_syntaxes(tmp_path: Path) -> None:
    web = merged(tmp_path, """
        services:
          web:
            environment: {B: two, C: "3"}
            labels: [two=2]
    """).services["web"]
    assert web.environment == {"A": "1", "B": "two", "C": "3"}
    assert web.labels == {"one": "1", "two": "2"}


def test_ports_and_volumes_deduplicated_by_key(tmp_path: Path) -> None:
    web = merged(tmp_path, """
        services:
          web:
            ports: ["8080:80", "9000:9000"]
            volumes: ["./b:/data:ro", "/tmp:/tmp"]
    """).services["web"]
    assert [(p.published, p.target) for p in web.ports] == [
        ("8080", 80), ("443", 443), ("9000", 9000)]
    assert [(v.target, v.read_only) for v in web.volumes] == [
        ("/data", True), ("/logs", False), ("/tmp", False)]
    assert web.volumes[0].source == str(tmp_path / "b")


def test_healthcheck_test_replaced_other_fields_kept(tmp_path: Path) -> None:
    web = merged(tmp_path, """
        services:
          web:
            healthcheck:
              test: curl -f localhost
              retries: 3
    """).services["web"]
    assert web.healthcheck is not None
    assert web.healthcheck.test == ("CMD-SHELL", "curl -f localhost")
    assert web.healthcheck.interval == 10.0 and web.healthcheck.retries == 3


def test_lists_of_values_deduplicate_and_secrets_by_target(tmp_path: Path) -> None:
    web = merged(tmp_path, """
        services:
          web:
            dns: [1.1.1.1, 8.8.8.8]
            secrets: [s1, {source: s1, target: other}]
            extra_hosts: {cache: 10.0.0.2}
    """).services["web"]
    assert web.dns == ("1.1.1.1", "8.8.8.8")
    assert [(s.source, s.target) for s in web.secrets] == [("s1", None), ("s1", "other")]
    assert web.extra_hosts == {"db": ("10.0.0.1",), "cache": ("10.0.0.2",)}


def test_depends_on_merges_short_and_long(tmp_path: Path) -> None:
    web = merged(tmp_path, """
        services:
          web:
            depends_on:
              db: {condition: service_healthy}
          db:
            healthcheck: {test: "true"}
    """).services["web"]
    assert web.depends_on["db"].condition == "service_healthy"


def test_reset_and_override_tags(tmp_path: Path) -> None:
    web = merged(tmp_path, """
        services:
          web:
            ports: !reset []
            dns: !reset null
            environment: !override {ONLY: "1"}
    """).services["web"]
    assert web.ports == ()
    assert web.dns == ()
    assert web.environment == {"ONLY": "1"}


def test_top_level_sections_merge(tmp_path: Path) -> None:
    project = merged(tmp_path, """
        volumes:
          extra: {}
        networks:
          front: {}
        services:
          web:
            networks: [front]
    """)
    assert set(project.volumes) == {"logs", "extra"}
    assert set(project.networks) == {"front", "default"}  # db still uses default
    assert set(project.services["web"].networks) == {"front"}


@pytest.mark.parametrize(("base", "over", "expected"), [
    ({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}, {"a": {"b": 1, "c": 3}}),
    ({"a": 1}, {"a": None}, {"a": 1}),
    ({"a": [1, 2]}, {"a": [2, 3]}, {"a": [1, 2, 3]}),
])
def test_merge_documents_generic_rules(base: dict, over: dict, expected: dict) -> None:
    assert merge_documents(base, over) == expected
