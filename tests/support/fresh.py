"""Running code in a fresh interpreter that finds the repository's packages: for what a
process does at start-up (what it imports, what it installs), which a test's own process has
long done."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(code: str, *args: str, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    """``python -c code args...`` with a minimal environment (``PATH``, ``PYTHONPATH``, then
    ``env``); fails the test when it exits non-zero."""
    full_env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, env=full_env)


def run_json(code: str, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    """:func:`run`, and the JSON object the code printed."""
    result: dict[str, object] = json.loads(run(code, *args, env=env).stdout)
    return result
