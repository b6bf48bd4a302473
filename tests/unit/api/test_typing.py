"""compose.api is typed for its users: a user script passes ``mypy --strict`` and misuse is
reported (the installed wheel's ``py.typed`` is checked in tests/unit/test_packaging.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support.user_typing import BAD, GOOD

pytestmark = pytest.mark.slow


# As for an installed package: pycompose is analysed, only the user's file is reported on.
CONFIG = """
[mypy]
strict = True
[mypy-compose.*,engine.*]
follow_imports = silent
"""


def mypy(tmp_path: Path, name: str, text: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / name).write_text(text)
    (tmp_path / "mypy.ini").write_text(CONFIG)
    return subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--cache-dir",
                           str(tmp_path / "cache"), name], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "MYPYPATH": str(REPO)})


def test_user_script_is_mypy_strict_clean(tmp_path: Path) -> None:
    run = mypy(tmp_path, "user.py", GOOD)
    assert run.returncode == 0, run.stdout + run.stderr


def test_misuse_is_reported(tmp_path: Path) -> None:
    run = mypy(tmp_path, "bad.py", BAD)
    assert run.returncode == 1
    reported = {int(line.split(":")[1]) for line in run.stdout.splitlines()
                if line.startswith("bad.py:")}
    assert reported == {5, 6, 7, 8}, run.stdout
