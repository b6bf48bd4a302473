"""Support for the end-to-end scenario suite (tests/e2e/test_scenarios_*.py): a ``scenario``
fixture that gives each test a private state root with the busybox image, a project named
after the test, and a finalizer that runs ``down -v`` and asserts that nothing of the project
is left: engine objects, mounts, netns, supervisor/shim processes (``leftovers``), the bridges,
veths and iptables rules of every network and container seen while it ran
(``kernel_leftovers``), and the containers' cgroups."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.cli import IMAGE, SLEEPER, Stack, import_busybox, leftovers
from tests.e2e.examples import KernelObjects, kernel_leftovers, kernel_objects

__all__ = ["IMAGE", "SLEEPER", "Scenario", "events", "scenario", "wait_for"]

CGROUP_FS = Path("/sys/fs/cgroup")


class Scenario(Stack):
    """A Stack that remembers the kernel objects and container ids it saw, for the final check.

    Call ``snapshot()`` whenever containers or networks exist (``up`` does it itself)."""

    seen_links: set[str]
    seen_tags: set[str]
    seen_ids: set[str]

    def snapshot(self) -> None:
        """Record the project's current kernel objects and container ids."""
        objs = kernel_objects(self)
        self.seen_links |= objs.links
        self.seen_tags |= objs.tags
        self.seen_ids |= set(self.engine(
            "from engine import containers; "
            "print(' '.join(c.id for c in containers.list_containers()))").split())

    def up(self, *args: str, check: bool = True, timeout: float = 90
           ) -> subprocess.CompletedProcess[str]:
        """``pycompose up ARGS`` and a snapshot of what it created."""
        proc = self.run("up", *args, check=check, timeout=timeout)
        self.snapshot()
        return proc

    def engine(self, code: str) -> str:
        """Run ``code`` against the engine API in this state root; return its stdout."""
        return subprocess.run([sys.executable, "-c", code], env=self.env(),
                              capture_output=True, text=True, check=True).stdout

    def ps(self, *services: str) -> list[dict[str, object]]:
        """``ps -a --format json`` rows."""
        out = self.run("ps", "-a", "--format", "json", *services).stdout
        return [json.loads(r) for r in out.splitlines() if r.strip()]

    def sh(self, service: str, script: str, check: bool = False, index: int | None = None
           ) -> subprocess.CompletedProcess[str]:
        """``exec -T SERVICE sh -c SCRIPT``."""
        idx = ("--index", str(index)) if index is not None else ()
        return self.run("exec", "-T", *idx, service, "sh", "-c", script, check=check)

    def cgroup_leftovers(self) -> list[str]:
        """cgroup directories of the containers seen, in any hierarchy."""
        return [str(p) for ctl in CGROUP_FS.iterdir() for cid in self.seen_ids
                if (p := ctl / "pycompose" / cid).exists()]


def wait_for(predicate: object, timeout: float, what: str) -> None:
    """Poll ``predicate()`` every 100 ms until true; fail naming ``what`` after ``timeout``."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@contextmanager
def events(sc: Scenario) -> Iterator[list[dict[str, object]]]:
    """Collect ``events --json`` lines while the block runs (ended by pid afterwards)."""
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", sc.name, "events",
                             "--json"], cwd=sc.dir, env=sc.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    seen: list[dict[str, object]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        yield seen
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(5)


@pytest.fixture
def scenario(tmp_path: Path, busybox_rootfs: Path, request: pytest.FixtureRequest
             ) -> Iterator[Scenario]:
    """A project named after the test in a private state root; torn down and checked."""
    root = tmp_path / "s"
    proj = tmp_path / "p"
    proj.mkdir()
    name = "sc" + request.node.name.lower().replace("_", "").replace("test", "")[-18:]
    name = "".join(ch for ch in name if ch.isalnum())
    import_busybox(root, busybox_rootfs, tmp_path)
    sc = Scenario(proj, root, name)
    sc.seen_links, sc.seen_tags, sc.seen_ids = set(), set(), set()
    yield sc
    try:
        sc.snapshot()
    except subprocess.CalledProcessError:
        pass  # the final check below still reports what is left
    sc.run("down", "-v", "-t", "1", check=False)
    # The shim fork server serves the whole state root (like the DNS daemon) and idles out
    # after 30 s; end it the engine's way so only the project's own processes are checked.
    sc.engine("try:\n from engine.containers import shimd\nexcept ImportError:\n pass\n"
              "else:\n shimd.stop_server()")
    deadline = time.monotonic() + 3  # processes killed by down may take a moment to vanish
    while (left := leftovers(sc)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left += kernel_leftovers(KernelObjects(frozenset(sc.seen_links), frozenset(sc.seen_tags)))
    left += sc.cgroup_leftovers()
    assert left == [], f"left on the host after down -v: {left}"
