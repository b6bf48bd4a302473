"""The wheel lives in users' virtualenvs: it must install no top-level ``schema`` package (the
import name of PyPI's ``schema``), ship the compose JSON Schema as package data of ``compose``,
mark the package typed and register the pytest plugin (issue 13). Builds the wheel and
installs it next to PyPI's ``schema`` (and mypy) in a fresh venv: needs PyPI."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.user_typing import GOOD

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out),
                    str(REPO)], check=True, capture_output=True, text=True, timeout=300)
    (found,) = out.glob("pycompose-*.whl")
    return found


def test_wheel_ships_schema_inside_compose_and_nothing_named_schema(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names if not n.startswith("pycompose-")}
    assert top == {"compose", "engine"}, top
    assert "compose/schema/compose-spec.json" in names
    assert "compose/py.typed" in names
    meta = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    entry_points = zipfile.ZipFile(wheel).read(meta).decode()
    assert "[pytest11]" in entry_points and "compose.pytest_plugin" in entry_points


def test_installs_next_to_pypi_schema(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    install = subprocess.run([str(py), "-m", "pip", "install", "-q", "-c",
                              str(REPO / "tests" / "constraints.txt"), str(wheel), "schema",
                              "mypy"],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: busybox\n"
                                           "    bogus: 1\n")
    check = """
import schema, compose.api
assert schema.Schema(int).validate(3) == 3          # PyPI's schema works
assert hasattr(schema, "Schema") and "site-packages" in schema.__file__
from compose.schema import load_compose_schema       # ours loads from package data
assert "properties" in load_compose_schema()
try:
    compose.api.Project(["compose.yaml"])            # validation reads the shipped JSON
except compose.api.ComposeFileError as exc:
    print(exc)
"""
    run = subprocess.run([str(py), "-c", check], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert "compose.yaml:4" in run.stdout and "bogus" in run.stdout, run.stdout  # the schema
    # typed for users through the installed py.typed (no source tree on any path here)
    (tmp_path / "user.py").write_text(GOOD)
    typed = subprocess.run([str(py), "-m", "mypy", "--strict", "user.py"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300)
    assert typed.returncode == 0, typed.stdout + typed.stderr
