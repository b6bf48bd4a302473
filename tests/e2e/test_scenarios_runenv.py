"""Scenarios: where a container's environment comes from, as docker compose's env-priority
tests pin it — ``run -e KEY`` takes KEY from the shell, then ``--env-file``/``.env``, and
leaves the image's value alone when none has it; a bare ``environment: [KEY]`` that the shell
does not set unsets the image's ENV."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.scenarios import IMAGE, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def _run(sc: Scenario, *args: str, **env: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", sc.name, *args],
                          cwd=sc.dir, env={**sc.env(), **env}, capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_run_env_priority_and_unset_passthrough(scenario: Scenario) -> None:
    sc = scenario
    (sc.dir / "Dockerfile").write_text(
        f"FROM {IMAGE}\nENV WHEREAMI=Dockerfile EMPTY=not_empty\n"
        'CMD ["sh", "-c", "echo \\"$WHEREAMI=$EMPTY=\\""]\n')
    (sc.dir / ".env").write_text("WHEREAMI=Env File\n")
    (sc.dir / ".env.override").write_text("WHEREAMI=override\n")
    (sc.dir / ".env.empty").write_text("")
    sc.write("""
services:
  probe:
    build: .
    environment:
      - EMPTY
""")
    sc.run("build", "-q")
    run = ("run", "--rm", "-e", "WHEREAMI", "probe")
    assert _run(sc, *run, WHEREAMI="shell") == "shell==\n"  # the shell wins; EMPTY unset
    assert _run(sc, "--env-file", ".env.override", *run, WHEREAMI="shell") == "shell==\n"
    assert _run(sc, "--env-file", ".env.override", *run) == "override==\n"
    assert _run(sc, *run) == "Env File==\n"
    assert _run(sc, "--env-file", ".env.empty", *run) == "Dockerfile==\n"
    assert _run(sc, "run", "--rm", "-e", "WHEREAMI=explicit", "probe", EMPTY="x") == (
        "explicit=x=\n")
