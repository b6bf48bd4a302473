"""File discovery, project directory and project name rules."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from compose.config import LoadOptions, load
from compose.config.discovery import normalize_project_name, resolve_project_name
from compose.errors import ConfigError

from .helpers import load_in, write

MINI = "services:\n  app:\n    image: {image}\n"


def test_preferred_name_and_override_file(tmp_path: Path) -> None:
    write(tmp_path, "docker-compose.yml", MINI.format(image="old"))
    write(tmp_path, "compose.yaml", MINI.format(image="new"))
    write(tmp_path, "docker-compose.override.yml", "services:\n  app:\n    user: nobody\n")
    project = load_in(tmp_path)
    assert project.compose_files == (str(tmp_path / "compose.yaml"),
                                     str(tmp_path / "docker-compose.override.yml"))
    assert project.services["app"].image == "new"
    assert project.services["app"].user == "nobody"


def test_walks_up_to_a_parent_directory(tmp_path: Path) -> None:
    write(tmp_path, "proj/compose.yml", MINI.format(image="x"))
    deep = tmp_path / "proj" / "a" / "b"
    deep.mkdir(parents=True)
    project = load_in(deep)
    assert project.working_dir == str(tmp_path / "proj")
    assert project.name == "proj"


def test_nothing_found_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no configuration file"):
        load_in(tmp_path)


def test_compose_file_variable_and_separator(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", MINI.format(image="a"))
    write(tmp_path, "b.yml", "services:\n  app:\n    user: b\n")
    project = load_in(tmp_path, {"COMPOSE_FILE": "a.yml;b.yml", "COMPOSE_PATH_SEPARATOR": ";"})
    assert project.services["app"].image == "a" and project.services["app"].user == "b"
    project = load_in(tmp_path, {"COMPOSE_FILE": "a.yml:b.yml"})
    assert project.services["app"].user == "b"


def test_compose_file_from_dotenv(tmp_path: Path) -> None:
    write(tmp_path, "x.yml", MINI.format(image="from-dotenv"))
    write(tmp_path, ".env", "COMPOSE_FILE=x.yml\nCOMPOSE_PROJECT_NAME=viaenv\n")
    project = load_in(tmp_path)
    assert project.services["app"].image == "from-dotenv"
    assert project.name == "viaenv"


def test_stdin_file(tmp_path: Path) -> None:
    stream = io.StringIO(MINI.format(image="stdin"))
    project = load(LoadOptions(files=("-",), working_dir=str(tmp_path), environ={},
                               stdin=stream))
    assert project.services["app"].image == "stdin"
    assert project.working_dir == str(tmp_path)


def test_project_directory_defaults_to_first_file_dir(tmp_path: Path) -> None:
    write(tmp_path, "sub/c.yml", "services:\n  app:\n    image: x\n    build: ./ctx\n")
    project = load_in(tmp_path, files=["sub/c.yml"])
    assert project.working_dir == str(tmp_path / "sub")
    build = project.services["app"].build
    assert build is not None and build.context == str(tmp_path / "sub" / "ctx")
    project = load_in(tmp_path, files=["sub/c.yml"], project_directory="elsewhere")
    build = project.services["app"].build
    assert build is not None and build.context == str(tmp_path / "elsewhere" / "ctx")


def test_name_precedence(tmp_path: Path) -> None:
    write(tmp_path, "My Dir/compose.yaml", "name: fromfile\n" + MINI.format(image="x"))
    d = tmp_path / "My Dir"
    assert load_in(d).name == "fromfile"
    assert load_in(d, {"COMPOSE_PROJECT_NAME": "fromenv"}).name == "fromenv"
    assert load_in(d, {"COMPOSE_PROJECT_NAME": "fromenv"}, project_name="cli").name == "cli"
    write(tmp_path, "My Dir/compose.yaml", MINI.format(image="x"))
    assert load_in(d).name == "mydir"


@pytest.mark.parametrize(("raw", "normalized"), [
    ("My_Project", "my_project"), ("a.b c", "abc"), ("__x", "x"), ("Test-1", "test-1"),
])
def test_normalization(raw: str, normalized: str) -> None:
    assert normalize_project_name(raw) == normalized


@pytest.mark.parametrize("bad", ["Upper", "-dash", "has space", "dot.ted"])
def test_invalid_explicit_name_is_an_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid project name"):
        resolve_project_name(bad, {}, None, Path("/x"))


def test_directory_without_usable_characters(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no usable characters"):
        resolve_project_name(None, {}, None, tmp_path / "___")


def _dotenv_fixture(root: Path) -> None:
    """docker compose's e2e fixture ``dotenv``: a .env naming the file in a subdirectory and
    enabling a profile, and the subdirectory's own .env with defaults."""
    write(root, ".env", 'COMPOSE_FILE="${COMPOSE_FILE:-development/compose.yaml}"\n'
                        "IMAGE_NAME=test\nCOMPOSE_PROFILES=test\n")
    write(root, "development/.env", 'IMAGE_NAME="${IMAGE_NAME:-backend}"\n'
                                    'IMAGE_TAG="${IMAGE_TAG:-latest}"\n')
    write(root, "development/compose.yaml",
          "services:\n  backend:\n    image: $IMAGE_NAME:$IMAGE_TAG\n"
          "  test:\n    profiles: [test]\n    image: enabled:profile\n")


def test_both_dotenv_files_apply_the_first_winning(tmp_path: Path) -> None:
    _dotenv_fixture(tmp_path)
    project = load(LoadOptions(working_dir=str(tmp_path), environ={}))
    assert project.services["backend"].image == "test:latest"  # IMAGE_TAG from the second
    assert project.services["test"].image == "enabled:profile"  # COMPOSE_PROFILES from the first


def test_project_directory_is_where_default_files_are_found(tmp_path: Path) -> None:
    _dotenv_fixture(tmp_path)
    (tmp_path / "elsewhere").mkdir()
    project = load(LoadOptions(working_dir=str(tmp_path / "elsewhere"), environ={},
                               project_directory=str(tmp_path / "development")))
    assert project.services["backend"].image == "backend:latest"
    assert project.compose_files == (str(tmp_path / "development" / "compose.yaml"),)


def test_env_file_can_name_the_compose_file_relative_to_the_working_dir(tmp_path: Path) -> None:
    _dotenv_fixture(tmp_path)
    write(tmp_path, "other.env", "COMPOSE_FILE=development/compose.yaml\nIMAGE_NAME=test\n"
                                 "IMAGE_TAG=latest\nCOMPOSE_PROFILES=test\n")
    project = load(LoadOptions(working_dir=str(tmp_path), environ={},
                               env_files=(str(tmp_path / "other.env"),)))
    assert sorted(s.image or "" for s in project.services.values()) == [
        "enabled:profile", "test:latest"]


def test_first_dotenv_is_the_one_next_to_the_first_file(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=cwd\n")
    write(tmp_path, "sub/.env", "TAG=sub\n")
    write(tmp_path, "sub/compose.yaml", MINI.format(image="app:${TAG}"))
    project = load(LoadOptions(working_dir=str(tmp_path), environ={},
                               files=("sub/compose.yaml",)))
    assert project.services["app"].image == "app:sub"
