"""End to end: the integration-test-environment example. Runs the user's pytest module
(examples/stacks/testenv/test_stack.py) in a subprocess, exactly as a user would, against a
private state root, and checks that its fixture left nothing behind."""
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
    pycompose = Path(sys.executable).with_name("pycompose")
    assert pycompose.exists(), "pycompose is not installed in this environment"
    env = {**os.environ, "PYCOMPOSE_ROOT": str(root), "PYCOMPOSE": str(pycompose),
           "NO_COLOR": "1"}
    # -c /dev/null: the user's module must not depend on this repository's pytest settings.
    proc = subprocess.run([sys.executable, "-m", "pytest", "-c", os.devnull, "-p",
                           "no:cacheprovider", "-q", "test_stack.py"], cwd=TESTENV, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "5 passed" in proc.stdout, proc.stdout
    # The fixture names the project after its pid; whatever it was, nothing may remain.
    assert leftovers(Stack(TESTENV, root, "testenv")) == []
