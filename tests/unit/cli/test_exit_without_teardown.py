"""A command that ran in the ``pycompose`` process ends without the interpreter's teardown
(compose.cli.main._end_without_teardown): its output, exit code and the other exit handlers
are kept; only the freeing of every object is skipped."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]

# run() as the installed command calls it, with two probes: an exit handler registered
# during the command (as logging's or a weakref finalizer's would be), and an object whose
# finalizer runs only if the interpreter tears its modules down
PROBE = """
import atexit, sys
import compose.cli.main as m

class Teardown:
    def __del__(self):
        sys.stderr.write("torn down\\n")

m._probe = Teardown()
command = m.main

def main(*args):
    atexit.register(lambda: sys.stderr.write("handler ran\\n"))
    return command(*args)

m.main = main
sys.argv = ["pycompose", *sys.argv[1:]]
m.run()
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYCOMPOSE_ENGINE_IDLE": "0",
           "PYCOMPOSE_ROOT": str(tmp_path / "state")}
    return subprocess.run([sys.executable, "-c", PROBE, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_large_output_arrives_whole_and_the_handlers_run(tmp_path: Path) -> None:
    services = {f"s{i:03d}": {"image": "busybox", "command": ["sleep", str(i)],
                              "environment": {"PADDING": "x" * 200}} for i in range(400)}
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump({"services": services}))
    out = _run(tmp_path, "config")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout) > 1 << 17  # more than a pipe holds: flushed before the exit
    assert yaml.safe_load(out.stdout)["services"].keys() == services.keys()
    assert "handler ran" in out.stderr
    assert "torn down" not in out.stderr  # the interpreter's teardown was skipped


def test_a_failing_command_keeps_its_exit_code_and_message(tmp_path: Path) -> None:
    out = _run(tmp_path, "-f", "missing.yaml", "config")
    assert out.returncode == 1, out.stderr
    assert "missing.yaml" in out.stderr and "not found" in out.stderr
    assert "handler ran" in out.stderr and "torn down" not in out.stderr
