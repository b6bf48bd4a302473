"""The pycompose command line: global options, config, graph, exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from compose.cli.main import COMMAND_MODULES, build_app, invoked_command, main
from tests.unit.config.helpers import write

FILE = """
name: demo
services:
  web:
    image: nginx
    ports: ["8080:80"]
    depends_on:
      db: {condition: service_healthy}
  db:
    image: postgres
    healthcheck: {test: pg_isready}
    volumes: [data:/var/lib/postgresql/data]
  dbg:
    image: busybox
    profiles: [debug]
volumes:
  data: {}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write(tmp_path, "compose.yaml", FILE)
    monkeypatch.chdir(tmp_path)
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_config_prints_canonical_yaml(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config")
    assert code == 0
    doc = yaml.safe_load(out)
    assert list(doc) == ["name", "services", "networks", "volumes"]
    assert doc["services"]["web"]["ports"] == [
        {"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}]
    assert doc["services"]["web"]["depends_on"] == {
        "db": {"condition": "service_healthy", "required": True}}
    assert doc["networks"] == {"default": {"name": "demo_default"}}
    assert 'published: "8080"' in out and "\n      - mode: ingress" in out


def test_config_lists(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "config", "--services")[1] == "db\nweb\n"
    assert run(capsys, "config", "--volumes")[1] == "data\n"
    assert run(capsys, "config", "--networks")[1] == "default\n"
    assert run(capsys, "config", "--profiles")[1] == "debug\n"
    assert run(capsys, "config", "--images")[1] == "postgres\nnginx\n"
    assert run(capsys, "--profile", "debug", "config", "--services")[1] == "db\ndbg\nweb\n"
    assert run(capsys, "config", "-q") == (0, "", "")


def test_config_json_and_output_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "--format", "json")
    assert code == 0 and json.loads(out)["name"] == "demo"
    code, out, _ = run(capsys, "-p", "other", "config", "-o", "out.yaml")
    assert code == 0 and out == ""
    assert yaml.safe_load((project / "out.yaml").read_text())["name"] == "other"


def test_config_for_one_service_keeps_dependencies(project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "web")
    assert code == 0 and set(yaml.safe_load(out)["services"]) == {"web", "db"}
    code, _, err = run(capsys, "config", "nope")
    assert code == 1 and "no such service: nope" in err


def test_graph_formats(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "graph")
    assert code == 0
    assert out == "web\n└── db (service_healthy)\n"
    assert "s_web -->|service_healthy| s_db" in run(capsys, "graph", "--format", "mermaid")[1]
    assert '"web" -> "db" [label="service_healthy"];' in run(capsys, "graph", "--format",
                                                              "dot")[1]


def test_config_error_is_one_line_with_exit_1(project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "compose.yaml", "services:\n  web:\n    image: x\n    bogus: 1\n")
    code, out, err = run(capsys, "config")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "compose.yaml:4" in err and "Traceback" not in err


def test_usage_errors(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # docker compose exits 1 for a bad command, flag or flag value, as for any failure
    assert run(capsys, "nosuchcommand")[0] == 1
    assert run(capsys, "--dry-run", "config")[0] == 1
    assert run(capsys, "config", "--format", "xml")[0] == 1
    code, _, err = run(capsys, "-p", "Bad Name", "config")
    assert code == 1 and "invalid project name" in err


def test_file_option_and_env_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "other.yml", "services:\n  x:\n    image: ${IMG}\n")
    write(project, "vars.env", "IMG=from-vars\n")
    code, out, _ = run(capsys, "-f", "other.yml", "--env-file", "vars.env", "config")
    assert code == 0 and yaml.safe_load(out)["services"]["x"]["image"] == "from-vars"


def test_help_lists_registered_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "config" in COMMAND_MODULES and "graph" in COMMAND_MODULES
    assert "config" in out and "graph" in out


def test_dollar_escaped_variables_and_environment(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "compose.yaml", """
        services:
          a:
            image: "busybox:${TAG:-1.36}"
            command: ["sh", "-c", "echo $$HOME"]
            environment:
              - NEED=${NEED:?set it}
              - ALT=${ALT:+x}
    """)
    code, out, err = run(capsys, "config")
    assert code == 1 and "NEED" in err  # required variable missing
    write(project, ".env", "NEED=yes\n")
    code, out, _ = run(capsys, "config")
    assert code == 0 and "echo $$HOME" in out  # escaped again: output is a valid file
    assert yaml.safe_load(out)["services"]["a"]["image"] == "busybox:1.36"
    code, out, _ = run(capsys, "config", "--variables")
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert rows[0][:2] == ["NAME", "REQUIRED"]
    assert ["ALT", "false", "x"] in rows and ["NEED", "true"] in rows
    assert ["TAG", "false", "1.36"] in rows
    code, out, _ = run(capsys, "config", "--environment")
    assert "NEED=yes" in out.splitlines()


def test_hash_and_convert_alias(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "--hash", "*")
    names = [line.split()[0] for line in out.splitlines()]
    assert code == 0 and names == ["db", "web"]
    assert all(len(line.split()[1]) == 64 for line in out.splitlines())
    code, out2, _ = run(capsys, "config", "--hash", "web")
    assert out2 == out.splitlines()[1] + "\n"
    assert run(capsys, "convert", "--services")[1] == "db\nweb\n"


@pytest.mark.parametrize(("argv", "expected"), [
    (["config"], "config"),
    (["-f", "a.yml", "-p", "x", "--env-file", "e", "up", "-d"], "up"),
    (["--file=a.yml", "-v", "graph", "--format", "dot"], "graph"),
    (["--profile", "debug", "--ansi", "never", "ps"], "ps"),
    (["-f", "a.yml"], None),
    (["--help", "config"], None),
])
def test_invoked_command(argv: list[str], expected: str | None) -> None:
    assert invoked_command(argv) == expected


def test_only_the_invoked_command_is_built() -> None:
    app = build_app(["-f", "x.yml", "graph"])
    assert [c.name for c in app.registered_commands] == ["graph"]
    everything = build_app(["--help"])
    assert {"config", "graph"} <= {c.name for c in everything.registered_commands}


def test_verbose_shows_the_traceback(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project, "compose.yaml", "services:\n  web:\n    image: x\n    bogus: 1\n")
    code, _, err = run(capsys, "-v", "config")
    assert code == 1 and "Traceback" in err and "bogus" in err.splitlines()[-1]


def test_build_makes_a_shared_image_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    import engine.images

    built: list[tuple[str, ...]] = []

    def fake_build(spec, progress=None):  # type: ignore[no-untyped-def]
        built.append(spec.tags)
        return SimpleNamespace(short_id="abc")

    monkeypatch.setattr(engine.images, "build", fake_build)
    (tmp_path / "app").mkdir()
    (tmp_path / "compose.yaml").write_text(
        "name: demo\nservices:\n"
        "  a: {image: 'shared:1', build: ./app}\n"
        "  b: {image: 'shared:1', build: ./app}\n"
        "  c: {build: ./app}\n"
        "  d: {image: busybox}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "-q"]) == 0
    assert built == [("shared:1",), ("demo-c",)]


def test_boolean_flags_take_go_style_values(project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """``--flag=true|false`` as docker compose's Go flags take them (``up --menu=false``)."""
    write(project, "compose.yaml", "services:\n  x:\n    image: img:${TAG:-1}\n")
    code, out, _ = run(capsys, "config", "--no-interpolate=true")
    assert code == 0 and "img:${TAG:-1}" in out
    code, out, _ = run(capsys, "config", "--no-interpolate=false")
    assert code == 0 and "img:1" in out
    code, out, _ = run(capsys, "config", "--quiet=false")
    assert code == 0 and "img:1" in out
    assert run(capsys, "config", "--quiet=maybe")[0] == 1
    code, _, err = run(capsys, "up", "--menu=true")  # there is no menu to turn on
    assert code == 1 and "not supported by pycompose" in err


def test_go_style_values_are_rewritten_only_in_options() -> None:
    from typer.main import get_command

    from compose.cli.app import build_app, go_bools

    group = get_command(build_app(["run"]))
    argv = ["run", "--rm=false", "-e", "--x=true", "svc", "ls", "--all=false"]
    assert go_bools(group, argv) == ["run", "-e", "--x=true", "svc", "ls", "--all=false"]
    assert go_bools(group, ["run", "--rm=true", "svc"]) == ["run", "--rm", "svc"]
    # docker: an explicit --no-tty=false asks for a terminal
    assert go_bools(group, ["run", "--no-tty=false", "svc"]) == ["run", "--tty", "svc"]
