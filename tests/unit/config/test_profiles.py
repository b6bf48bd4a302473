"""Profiles: activation by flag, variable, '*', targeting; disabled dependencies."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import ConfigError

from .helpers import load_in, write

FILE = """
services:
  app: {image: app}
  debug: {image: dbg, profiles: [debug]}
  tools: {image: tools, profiles: [tools, debug]}
"""


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    write(tmp_path, "compose.yaml", FILE)
    return tmp_path


def test_services_without_profiles_always_on(project_dir: Path) -> None:
    project = load_in(project_dir)
    assert set(project.services) == {"app"}
    assert project.all_profiles == ("debug", "tools")
    assert set(project.disabled_services) == {"debug", "tools"}


def test_profile_flag_and_variable(project_dir: Path) -> None:
    assert set(load_in(project_dir, profiles=["tools"]).services) == {"app", "tools"}
    assert set(load_in(project_dir, {"COMPOSE_PROFILES": "debug"}).services) == {
        "app", "debug", "tools"}
    # --profile takes precedence over the variable
    assert set(load_in(project_dir, {"COMPOSE_PROFILES": "debug"},
                       profiles=["tools"]).services) == {"app", "tools"}


def test_star_enables_everything(project_dir: Path) -> None:
    assert set(load_in(project_dir, profiles=["*"]).services) == {"app", "debug", "tools"}


def test_targeted_service_enables_itself(project_dir: Path) -> None:
    assert set(load_in(project_dir, services=["debug"]).services) == {"app", "debug"}


def test_dependency_on_disabled_service(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          app: {image: app, depends_on: [db]}
          db: {image: db, profiles: [storage]}
    """)
    with pytest.raises(ConfigError, match="disabled"):
        load_in(tmp_path)
    assert set(load_in(tmp_path, profiles=["storage"]).services) == {"app", "db"}


def test_optional_dependency_on_disabled_service_is_dropped(tmp_path: Path) -> None:
    write(tmp_path, "compose.yaml", """
        services:
          app:
            image: app
            depends_on:
              db: {condition: service_started, required: false}
          db: {image: db, profiles: [storage]}
    """)
    project = load_in(tmp_path)
    assert project.services["app"].depends_on == {}


@pytest.mark.parametrize(("key", "value"), [
    ("links", "[db]"), ("network_mode", '"service:db"'), ("volumes_from", "[db]"),
    ("depends_on", "[db]"),
])
def test_reference_to_disabled_service_is_located(tmp_path: Path, key: str, value: str) -> None:
    write(tmp_path, "compose.yaml", f"""
        services:
          app:
            image: app
            {key}: {value}
          db: {{image: db, profiles: [storage]}}
    """)
    with pytest.raises(ConfigError) as info:
        load_in(tmp_path)
    assert "disabled" in info.value.message and "storage" in info.value.message
    assert info.value.line == 5 and info.value.key_path == f"services.app.{key}"
