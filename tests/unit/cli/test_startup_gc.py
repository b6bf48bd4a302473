"""The cyclic garbage collector is paused while a command run in the ``pycompose`` process
starts (compose.cli.main.run): no collection during a short command, collection as usual in a
long one once the pause is over, and in every process it forks."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# run() as the installed command calls it; at the command's end: how many collections ran,
# whether the collector is on (after waiting WAIT seconds), and what a forked child finds
PROBE = """
import gc, os, sys, time
import compose.cli.main as m

collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info))
m.GC_PAUSE = float(os.environ["PAUSE"])
command = m.main

def main(*args):
    code = command(*args)
    time.sleep(float(os.environ["WAIT"]))
    before = len(collections)
    for _ in range(5000):  # cyclic garbage: young collections, if the collector runs
        cycle = []
        cycle.append(cycle)
    later = len(collections) - before
    pid = os.fork()
    if pid == 0:
        os._exit(0 if gc.isenabled() else 1)
    forked = os.waitpid(pid, 0)[1] == 0
    sys.stderr.write(f"probe {before} {gc.isenabled()} {gc.get_freeze_count() > 0}"
                     f" {forked} {later}\\n")
    return code

m.main = main
sys.argv = ["pycompose", *sys.argv[1:]]
m.run()
"""


def _probe(tmp_path: Path, pause: float, wait: float) -> list[str]:
    (tmp_path / "compose.yaml").write_text(
        "services:\n" + "".join(f"  s{i}:\n    image: busybox\n    command: [sleep, '{i}']\n"
                                for i in range(20)))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYCOMPOSE_ENGINE_IDLE": "0",
           "PYCOMPOSE_ROOT": str(tmp_path / "state"), "PAUSE": str(pause), "WAIT": str(wait)}
    out = subprocess.run([sys.executable, "-c", PROBE, "config"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "s19:" in out.stdout
    probe = [line for line in out.stderr.splitlines() if line.startswith("probe ")]
    assert len(probe) == 1, out.stderr
    return probe[0].split()[1:]


def test_a_short_command_collects_nothing_and_its_children_collect(tmp_path: Path) -> None:
    """``config`` (some 30 young collections before the pause, none to free) ends within the
    pause without one; a process forked meanwhile has the collector on."""
    collections, enabled, frozen, forked, later = _probe(tmp_path, pause=30.0, wait=0.0)
    assert collections == "0" and later == "0"
    assert enabled == "False" and frozen == "False"
    assert forked == "True"


def test_a_longer_command_collects_after_the_pause(tmp_path: Path) -> None:
    """Once the pause is over the collector runs again, with the objects made while the
    command started frozen out of its way."""
    collections, enabled, frozen, forked, later = _probe(tmp_path, pause=0.05, wait=1.0)
    assert enabled == "True" and frozen == "True"
    assert int(collections) >= 1  # the collection before the freeze
    assert int(later) > 0  # and young collections as usual
    assert forked == "True"
