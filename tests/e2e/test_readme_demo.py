"""The README's first command, run as a user would (in a private state root)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.root, pytest.mark.slow]


def processes_of(root: Path) -> list[str]:
    """Command lines of live processes running with ``PYCOMPOSE_ROOT=root``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if f"PYCOMPOSE_ROOT={root}\0".encode() in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
        except OSError:
            continue
    return found


def test_readme_demo_shows_discovery_and_cleans_up(tmp_path: Path) -> None:
    root = tmp_path / "state"
    env = {**os.environ, "PYCOMPOSE_ROOT": str(root)}
    proc = subprocess.run(
        ["bash", str(REPO / "examples" / "demo.sh")],
        env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # discovery by service name and by alias, from the client's logs
    assert "client: GET http://web/ -> hello from" in out
    assert "client: GET http://www/ (alias) -> hello from" in out
    # the second network is isolated
    assert "outsider: web does not resolve on the back network" in out
    assert "outsider: and it cannot be reached from here" in out
    # health-gated order: client is gated by web, whose healthy time precedes client's start
    timings = {line.split()[0]: line.split() for line in out.splitlines()
               if line.split() and line.split()[0] in ("web", "client")
               and len(line.split()) == 8}
    healthy_web = float(timings["web"][4])
    started_client = float(timings["client"][3])
    assert timings["client"][6] == "web"
    assert started_client >= healthy_web
    gone = re.search(r"the stack's (\d+) bridges and veths are gone, and no mount remains", out)
    assert gone and int(gone.group(1)) >= 5, out[-2000:]  # 2 bridges + 3 veths at least
    # and no process of ours (supervisor, DNS daemon, shim fork server) outlives `down`
    deadline = time.monotonic() + 3
    while processes_of(root) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_of(root) == []
