"""The cgroup v2 driver on a real, pure cgroup v2 kernel (the QEMU guest of tests/cgv2; skipped on
hybrid hosts, where /sys/fs/cgroup is not a unified mount)."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import cgroups
from engine.cgroups import V2Driver
from engine.cgroups.devices import CGROUP_DEVICE
from engine.containers.bundle import device_rules
from engine.runtime.syscalls import LinuxSyscalls

pytestmark = pytest.mark.root

ROOT = Path("/sys/fs/cgroup")


@pytest.fixture
def v2() -> V2Driver:
    drv = cgroups.driver()
    if not isinstance(drv, V2Driver):
        pytest.skip("host is not cgroup v2 (run through tests/cgv2)")
    return drv


@pytest.fixture
def cg_path(v2: V2Driver) -> Iterator[str]:
    path = f"pycompose/t-{secrets.token_hex(4)}"
    yield path
    if v2.exists(path):
        v2.kill_all(path, signal.SIGKILL)
        time.sleep(0.1)
        v2.delete(path)
    v2.prune("pycompose")
    assert not v2.exists(path)


def _attached(d: Path) -> list[int]:
    s = LinuxSyscalls()
    fd = s.open_dir(str(d))
    try:
        return s.bpf_prog_query(fd, CGROUP_DEVICE)
    finally:
        s.close(fd)


def _read(d: Path, name: str) -> str:
    return (d / name).read_text().strip()


def test_limits_land_in_v2_files(v2: V2Driver, cg_path: str) -> None:
    v2.create(cg_path, {
        "memory": {"limit": 64 << 20, "reservation": 16 << 20, "swap": 96 << 20},
        "cpu": {"quota": 50000, "period": 100000, "shares": 1024, "cpus": "0"},
        "pids": {"limit": 40}, "blockIO": {"weight": 500}})
    d = ROOT / cg_path
    assert _read(d, "memory.max") == str(64 << 20)
    assert _read(d, "memory.low") == str(16 << 20)
    assert _read(d, "memory.swap.max") == str(32 << 20)
    assert _read(d, "cpu.max") == "50000 100000"
    assert _read(d, "cpu.weight") == "39"
    assert _read(d, "cpuset.cpus") == "0"
    assert _read(d, "pids.max") == "40"
    assert "default 4950" in _read(d, "io.weight")
    v2.update(cg_path, {"memory": {"limit": 32 << 20}, "pids": {"limit": 20}})
    assert _read(d, "memory.max") == str(32 << 20) and _read(d, "pids.max") == "20"


def test_device_program_attached_replaced_and_gone(v2: V2Driver, cg_path: str) -> None:
    v2.create(cg_path, {"devices": device_rules(False)})
    d = ROOT / cg_path
    first = _attached(d)
    assert len(first) == 1
    v2.update(cg_path, {"devices": device_rules(True)})
    second = _attached(d)
    assert len(second) == 1 and second != first  # replaced, not stacked
    v2.delete(cg_path)
    assert not d.exists()


def test_device_program_denies_a_shell_in_the_cgroup(v2: V2Driver, cg_path: str,
                                                     tmp_path: Path) -> None:
    v2.create(cg_path, {"devices": device_rules(False)})
    os.mknod(tmp_path / "mem", 0o600 | 0o020000, os.makedev(1, 1))
    os.mknod(tmp_path / "null", 0o666 | 0o020000, os.makedev(1, 3))
    script = (f"echo $$ > {ROOT / cg_path}/cgroup.procs;"
              f"head -c 1 {tmp_path}/mem >/dev/null 2>&1 && echo mem=open || echo mem=denied;"
              f"echo x > {tmp_path}/null && echo null=open")
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert "mem=denied" in out.stdout and "null=open" in out.stdout, out


def test_freeze_kill_stats_and_oom(v2: V2Driver, cg_path: str) -> None:
    v2.create(cg_path, {"memory": {"limit": 16 << 20, "swap": 16 << 20}})
    sink = Path(f"/tmp/{cg_path.replace('/', '-')}")
    proc = subprocess.Popen(["sh", "-c", f"dd if=/dev/zero of={sink} bs=64k count=16 "
                             "2>/dev/null; sync; exec sleep 60"])
    try:
        v2.add_process(cg_path, proc.pid)
        v2.freeze(cg_path)
        assert v2.is_frozen(cg_path)
        v2.thaw(cg_path)
        time.sleep(0.5)
        st = v2.stats(cg_path)
        assert st.memory_limit == 16 << 20 and st.pids_current >= 1 and st.cpu_usage_ns > 0
        v2.kill_all(cg_path, signal.SIGKILL)  # cgroup.kill
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        sink.unlink(missing_ok=True)
    hog = subprocess.run(["sh", "-c", f"echo $$ > {ROOT / cg_path}/cgroup.procs; exec "
                          f"{sys.executable} -c 'b = bytearray(64 << 20)'"], timeout=120)
    assert hog.returncode == -signal.SIGKILL
    assert v2.oom_killed(cg_path)  # memory.events oom_kill


def test_delegated_subtree_is_used_by_its_owner(v2: V2Driver) -> None:
    uid = 4242
    base = ROOT / f"deleg-{secrets.token_hex(3)}"
    leaf = base / "shell"
    for d in (base, leaf):
        d.mkdir()
        for p in (d, d / "cgroup.procs", d / "cgroup.subtree_control", d / "cgroup.threads"):
            os.chown(p, uid, uid)
    code = ("from engine import cgroups; d = cgroups.driver(); print(d.root); "
            "d.create('pycompose/c', {'pids': {'limit': 7}, 'memory': {'limit': 8388608}}); "
            "print((d.root / 'pycompose/c/pids.max').read_text().strip()); "
            "d.delete('pycompose/c'); print(d.exists('pycompose/c'))")

    def enter() -> None:  # join the leaf as root, then become the user
        (leaf / "cgroup.procs").write_text(str(os.getpid()))
        os.setgid(uid)
        os.setuid(uid)

    try:
        out = subprocess.run([sys.executable, "-c", code], preexec_fn=enter, capture_output=True,
                             text=True, timeout=60, env={**os.environ, "HOME": "/tmp"})
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [str(base), "7", "False"], out
    finally:
        for d in sorted(base.rglob("*"), reverse=True):
            if d.is_dir():
                d.rmdir()
        base.rmdir()
