"""``config`` flags as docker compose's own end-to-end tests exercise them: ``--no-interpolate``
(the raw model, keys in order, service selection ignored with a warning), ``--variables`` in
table, JSON and YAML, JSON without a trailing newline, and the precedence of the list flags."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from compose.cli.main import main
from tests.unit.config.helpers import write

FILE = """
services:
  test:
    image: test
    ports:
      - ${PORT:-8080}:80
  other:
    image: busybox
    profiles: [extra]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path, "compose.yaml", FILE)
    monkeypatch.chdir(tmp_path)
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES", "PORT"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["-p", "demo", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_no_interpolate_renders_the_model_with_sorted_keys(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "config", "--no-interpolate")
    assert code == 0 and err == ""
    assert out.startswith("name: demo\nnetworks:\n  default:\n    name: demo_default\n"
                          "services:\n  test:\n    image: test\n    networks:\n"
                          "      default: null\n    ports:\n      - ${PORT:-8080}:80\n")
    code, out, err = run(capsys, "config", "--no-interpolate", "test")
    assert code == 0 and "- ${PORT:-8080}:80" in out
    assert "service filtering is not applied when --no-interpolate is set" in err
    code, out, _ = run(capsys, "config", "--no-interpolate", "--format", "json")
    assert list(json.loads(out)) == ["name", "networks", "services"]
    assert json.loads(out)["services"]["test"]["ports"] == ["${PORT:-8080}:80"]


def test_json_has_no_trailing_newline_like_go(project: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "--format", "json")
    assert code == 0 and out.endswith("}") and '"published": "8080"' in out


def test_variables_table_json_yaml(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "--variables")
    assert code == 0 and out.split() == ["NAME", "REQUIRED", "DEFAULT", "VALUE", "ALTERNATE",
                                         "VALUE", "PORT", "false", "8080"]
    _, out, _ = run(capsys, "config", "--variables", "--format", "json")
    assert out == ('{\n    "PORT": {\n        "Name": "PORT",\n        "DefaultValue": "8080",\n'
                   '        "PresenceValue": "",\n        "Required": false\n    }\n}\n')
    _, out, _ = run(capsys, "config", "--variables", "--format", "yaml")
    assert out == ('PORT:\n    name: PORT\n    defaultvalue: "8080"\n    presencevalue: ""\n'
                   "    required: false\n")
    code, out, err = run(capsys, "config", "--variables", "test")
    assert code == 0 and "PORT" in out
    assert "service filtering is not applied when --variables is set" in err


def test_list_flag_precedence_and_bad_format(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "config", "--services", "--hash", "*")
    assert out == "test\n"  # --services wins over --hash, like docker compose
    _, out, _ = run(capsys, "config", "--profiles", "--hash", "test")
    assert out.startswith("test ") and len(out.split()[1]) == 64  # --hash wins over --profiles
    code, _, err = run(capsys, "config", "--format", "toml")
    assert code == 1 and "yaml or json" in err
