"""Fixtures for runtime integration tests: an overlay rootfs per test, a runtime with a private
state root, and a finalizer that asserts nothing (mount, cgroup, process, state) is left."""
from __future__ import annotations

import ctypes
import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine import cgroups
from engine.runtime import BuiltinRuntime
from tests.integration.runtime.bundles import make_config, write_bundle

PR_SET_CHILD_SUBREAPER = 36


def mounts_under(path: Path) -> list[str]:
    """Mount points (host view) at or below ``path``."""
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mp = line.split()[4]
        if mp == str(path) or mp.startswith(str(path) + "/"):
            out.append(mp)
    return out


@dataclass
class Env:
    """One test's runtime, bundle directory and bookkeeping."""

    rt: BuiltinRuntime
    bundle: Path
    tmp: Path
    ids: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    def new_id(self) -> str:
        cid = "rt-" + secrets.token_hex(6)
        self.ids.append(cid)
        return cid

    def write(self, args: list[str], **kw: Any) -> Path:
        kw.setdefault("cgroups_path", None)
        return write_bundle(self.bundle, make_config(args, **kw))

    def create(self, cid: str, **kw: Any) -> tuple[int, Path]:
        """create with stdout+stderr to a file; returns (pid, output file)."""
        out = self.tmp / f"{cid}.out"
        with open(out, "wb") as f:
            pid = self.rt.create(cid, self.bundle, stdin=subprocess.DEVNULL
                                 if False else None, stdout=f.fileno(), stderr=f.fileno(), **kw)
        self.pids.append(pid)
        return pid, out

    def run(self, args: list[str], **kw: Any) -> tuple[int, str]:
        """Run a container to completion: (exit code, output)."""
        self.write(args, **kw)
        cid = self.new_id()
        pid, out = self.create(cid)
        self.rt.start(cid)
        code = wait(pid)
        self.rt.delete(cid)
        return code, out.read_text()


def wait_for_text(path: Path, text: str, timeout: float = 10.0) -> None:
    """Wait until a container's output file contains ``text`` (e.g. "trap installed")."""
    import time

    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.01)


def wait(pid: int) -> int:
    """waitpid a container process (our child through the subreaper) -> shell exit code."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) \
        else 128 + os.WTERMSIG(status)


@pytest.fixture
def subreaper() -> Iterator[None]:
    libc = ctypes.CDLL(None)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    yield
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.fixture
def overlay_rootfs(busybox_rootfs: Path) -> Iterator[Path]:
    """A bundle dir whose rootfs is an OverlayFS mount over the shared busybox rootfs."""
    tmp = Path(tempfile.mkdtemp(prefix="pc-rt-"))
    rootfs = tmp / "bundle" / "rootfs"
    for d in (rootfs, tmp / "upper", tmp / "work"):
        d.mkdir(parents=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={busybox_rootfs},upperdir={tmp}/upper,workdir={tmp}/work",
                    str(rootfs)], check=True)
    yield tmp
    subprocess.run(["umount", str(rootfs)], check=True)
    assert mounts_under(tmp) == []
    subprocess.run(["rm", "-rf", str(tmp)], check=True)


@pytest.fixture
def env(overlay_rootfs: Path, tmp_path: Path, subreaper: None) -> Iterator[Env]:
    e = Env(rt=BuiltinRuntime(root=tmp_path / "state"), bundle=overlay_rootfs / "bundle",
            tmp=tmp_path)
    yield e
    for cid in e.ids:
        e.rt.delete(cid, force=True)
    for pid in e.pids:  # reap what the test did not wait for
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    leaks = [p for p in cgroups.list_paths("pycompose") if p.split("/")[-1] in e.ids]
    assert leaks == [], f"cgroups left: {leaks}"
    cgroups.driver().prune("pycompose")  # (the engine does, with its last container)
    assert not any((tmp_path / "state" / cid).exists() for cid in e.ids)
    assert mounts_under(overlay_rootfs / "bundle" / "rootfs") == \
        [str(overlay_rootfs / "bundle" / "rootfs")]
    for pid in e.pids:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} left"
