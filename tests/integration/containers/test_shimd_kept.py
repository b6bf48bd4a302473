"""The shim fork server the warm engine keeps (engine.containers.shimd.spawn_for_engine)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[3]

KEPT_SCRIPT = r"""
import os, sys, time
from pathlib import Path
from engine.containers import shimd
root = Path(sys.argv[1])
os.closerange(3, 5)  # the pipe gets fds 3 and 4: the very numbers the server's stay at
read_end, write_end = os.pipe()
assert (read_end, write_end) == (3, 4), (read_end, write_end)
pid = shimd.spawn_for_engine(root, sys.argv[2], read_end)
os.close(read_end)
deadline = time.monotonic() + 20
while not shimd.server_running(root):
    assert time.monotonic() < deadline, "the kept server never listened"
    assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the kept server exited at once"
    time.sleep(0.02)
time.sleep(0.3)
assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the kept server went with its lifeline open"
os.close(write_end)  # the "engine" goes: so does the server
_, status = os.waitpid(pid, 0)
print("exit", os.waitstatus_to_exitcode(status), shimd.server_running(root))
"""


def test_the_engines_kept_server_lives_until_its_lifeline_closes(tmp_path: Path) -> None:
    """spawn_for_engine hands the server its lifeline at fd 4 and /dev/null at fd 3 whatever
    numbers the caller's descriptors have (a lifeline at fd 3 was once overwritten first)."""
    root = tmp_path / "state"
    (root / "run").mkdir(parents=True, mode=0o700)
    out = subprocess.run([sys.executable, "-c", KEPT_SCRIPT, str(root), str(REPO)], cwd=REPO,
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYCOMPOSE_ROOT": str(root)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["exit", "0", "False"]
