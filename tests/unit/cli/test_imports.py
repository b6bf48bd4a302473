"""Start-up discipline: ``pycompose config`` must not pull in heavy modules it does not use
(speed is measured in bench/, this only guards the import set)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

SCRIPT = """
import json, sys
from compose.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def imported_by(*argv: str, cwd: Path) -> set[str]:
    out = subprocess.run([sys.executable, "-c", SCRIPT, *argv], cwd=cwd, capture_output=True,
                         text=True, check=True, env={"PATH": "/usr/bin:/bin",
                                                     "PYTHONPATH": str(REPO)})
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["code"] == 0, out.stderr
    return set(result["modules"])


def test_config_imports_stay_light(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: y\n")
    modules = imported_by("config", "-q", cwd=tmp_path)
    heavy = {"networkx", "pydantic", "engine", "compose.orchestrator", "rich", "pyroute2"}
    assert not {m.split(".")[0] for m in modules} & heavy
    assert not any(m.startswith("compose.orchestrator") for m in modules)
    assert "compose.cli.commands.config" in modules
    assert "compose.cli.commands.graph" not in modules  # only the invoked command is built


def test_graph_does_not_need_networkx(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n")
    assert "networkx" not in imported_by("graph", cwd=tmp_path)


def test_help_imports_no_engine_orchestrator_or_config(tmp_path: Path) -> None:
    modules = imported_by("--help", cwd=tmp_path)
    heavy = {"networkx", "engine", "yaml", "jsonschema", "pyroute2", "sqlite3"}
    assert not {m.split(".")[0] for m in modules} & heavy
    # every command module is imported (to list it) but none pulls in the orchestrator
    assert {f"compose.cli.commands.{n}" for n in ("up", "run", "ps", "logs")} <= modules
    assert {m for m in modules if m.startswith("compose.orchestrator.")} <= {
        "compose.orchestrator.labels", "compose.orchestrator.lookup"}  # both import no engine
    assert not any(m.startswith("compose.config") for m in modules)


def test_help_lists_every_command_with_its_help() -> None:
    from typer.testing import CliRunner

    from compose.cli.main import COMMAND_MODULES, build_app

    out = CliRunner().invoke(build_app(["--help"]), ["--help"]).output
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")
              and not line.lstrip().startswith("-")}
    assert set(COMMAND_MODULES) <= listed
    assert "Create and start containers." in out
