"""End to end: the integration-test-environment example. Runs the user's pytest module
(examples/stacks/testenv/test_stack.py, on the pycompose pytest plugin) in a subprocess,
exactly as a user would, against a private state root, and checks that the plugin left
nothing behind."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.cli import Stack, leftovers
from tests.e2e.examples import REPO, require_debian_material

pytestmark = [pytest.mark.root, pytest.mark.slow]

TESTENV = REPO / "examples" / "stacks" / "testenv"


def test_user_test_module_passes_and_cleans_up(tmp_path: Path) -> None:
    require_debian_material()
    root = tmp_path / "state"
    root.mkdir()
    env = {**os.environ, "PYCOMPOSE_ROOT": str(root), "NO_COLOR": "1"}
    # The example's own pytest.ini makes it its rootdir: none of this repository's settings
    # apply; the plugin comes from the installed pycompose's pytest11 entry point.
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "-s", "test_stack.py"], cwd=TESTENV, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "6 passed" in proc.stdout, proc.stdout
    # Whatever the plugin named the projects, nothing of them may remain.
    assert leftovers(Stack(TESTENV, root, "testenv")) == []
    assert not list((root / "run").glob("project-*.pid")), "a supervisor was left running"
