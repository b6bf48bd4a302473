"""include: short and long syntax, own project directory and env, conflicts."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import ConfigError

from .helpers import load_in, write


def test_include_short_syntax_resolves_paths_in_included_dir(tmp_path: Path) -> None:
    write(tmp_path, "db/compose.yaml", """
        services:
          db:
            image: "postgres:${PG:-15}"
            volumes: ["./init:/docker-entrypoint-initdb.d"]
        volumes:
          dbdata: {}
    """)
    write(tmp_path, "db/.env", "PG=16\n")
    write(tmp_path, "compose.yaml", """
        include:
          - db/compose.yaml
        services:
          web:
            image: web
            depends_on: [db]
    """)
    project = load_in(tmp_path)
    assert set(project.services) == {"db", "web"}
    db = project.services["db"]
    assert db.image == "postgres:16"  # the included project's own .env
    assert db.volumes[0].source == str(tmp_path / "db" / "init")
    assert "dbdata" in project.volumes


def test_include_long_syntax(tmp_path: Path) -> None:
    write(tmp_path, "lib/a.yml", "services:\n  a:\n    image: ${IMG}\n    build: ctx\n")
    write(tmp_path, "lib/b.yml", "services:\n  a:\n    user: nobody\n")
    write(tmp_path, "vars.env", "IMG=from-env-file\n")
    write(tmp_path, "compose.yaml", """
        include:
          - path: [lib/a.yml, lib/b.yml]
            project_directory: other
            env_file: vars.env
        services: {}
    """)
    a = load_in(tmp_path).services["a"]
    assert a.image == "from-env-file" and a.user == "nobody"
    assert a.build is not None and a.build.context == str(tmp_path / "other" / "ctx")


def test_include_conflict_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "inc.yml", "services:\n  web:\n    image: a\n")
    write(tmp_path, "compose.yaml", "include: [inc.yml]\nservices:\n  web:\n    image: b\n")
    with pytest.raises(ConfigError) as info:
        load_in(tmp_path)
    assert "services.web" in info.value.message and info.value.line == 3


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "include: [b.yml]\nservices: {}\n")
    write(tmp_path, "b.yml", "include: [a.yml]\nservices: {}\n")
    with pytest.raises(ConfigError, match="include cycle"):
        load_in(tmp_path, files=["a.yml"])


def test_include_missing_file(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "include: [gone.yml]\nservices: {}\n")
    with pytest.raises(ConfigError, match="gone.yml"):
        load_in(tmp_path)


def test_including_environment_wins_over_included_env(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=parent\n")
    write(tmp_path, "sub/.env", "TAG=child\nONLY_CHILD=yes\n")
    write(tmp_path, "sub/compose.yaml",
          "services:\n  s:\n    image: x:${TAG}\n    user: ${ONLY_CHILD}\n")
    write(tmp_path, "compose.yaml", "include: [sub/compose.yaml]\nservices: {}\n")
    s = load_in(tmp_path).services["s"]
    assert (s.image, s.user) == ("x:parent", "yes")
