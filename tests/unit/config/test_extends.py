"""extends: same file, other file (paths rebased), chains and cycles."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import ConfigError

from .helpers import load_in, write


def test_extends_same_file_merges_with_rules(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          base:
            image: busybox
            command: sleep 1
            environment: {A: "1", B: "1"}
            ports: ["80:80"]
          child:
            extends: base
            command: sleep 2
            environment: {B: "2"}
            ports: ["81:81"]
          grandchild:
            extends: {service: child}
            user: nobody
    """)
    project = load_in(tmp_path)
    child, grand = project.services["child"], project.services["grandchild"]
    assert child.image == "busybox" and child.command == ("sleep", "2")
    assert child.environment == {"A": "1", "B": "2"}
    assert [p.target for p in child.ports] == [80, 81]
    assert grand.command == ("sleep", "2") and grand.user == "nobody"
    assert "extends" not in grand.raw


def test_extends_other_file_rebases_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, "common/base.yml", """
        services:
          web:
            build: ./app
            env_file: web.env
            volumes: ["./static:/static"]
    """)
    write(tmp_path, "common/web.env", "FROM_BASE=1\n")
    write(tmp_path, "compose.yaml", """
        services:
          front:
            extends:
              file: common/base.yml
              service: web
            image: front
    """)
    front = load_in(tmp_path).services["front"]
    assert front.build is not None
    assert front.build.context == str(tmp_path / "common" / "app")
    assert front.volumes[0].source == str(tmp_path / "common" / "static")
    assert front.environment == {"FROM_BASE": "1"}


def test_extends_cycle_names_the_cycle(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          a: {extends: b, image: x}
          b: {extends: c, image: x}
          c: {extends: a, image: x}
    """)
    with pytest.raises(ConfigError) as info:
        load_in(tmp_path)
    assert "a -> b -> c -> a" in info.value.message


def test_extends_unknown_service(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", "services:\n  a:\n    extends: ghost\n    image: x\n")
    with pytest.raises(ConfigError, match="ghost"):
        load_in(tmp_path)


def test_extends_missing_file(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          a:
            extends: {file: nope.yml, service: x}
            image: x
    """)
    with pytest.raises(ConfigError, match="nope.yml"):
        load_in(tmp_path)
