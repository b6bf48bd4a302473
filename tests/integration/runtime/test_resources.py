"""cgroup limits applied by the built-in runtime hold against real workloads."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import cgroups
from tests.integration.runtime.conftest import Env, wait

pytestmark = pytest.mark.root


def test_memory_limit_ends_in_oom_kill(env: Env) -> None:
    limit = 16 << 20
    env.write(["sh", "-c", "a=aaaaaaaaaaaaaaaa; while :; do a=$a$a; done"],
              resources={"memory": {"limit": limit, "swap": limit}})
    cid = env.new_id()
    pid, _ = env.create(cid)
    env.rt.start(cid)
    code = wait(pid)
    drv = cgroups.driver()
    assert code == 137
    assert drv.oom_killed(f"pycompose/{cid}")
    assert drv.stats(f"pycompose/{cid}").memory_limit == limit
    env.rt.delete(cid)


def test_pids_limit_holds_a_fork_bomb(env: Env) -> None:
    env.write(["sh", "-c", "b() { b | b & }; b; sleep 30"], resources={"pids": {"limit": 24}})
    cid = env.new_id()
    pid, out = env.create(cid)
    env.rt.start(cid)
    drv = cgroups.driver()
    path = f"pycompose/{cid}"
    samples: list[int] = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline or (_refused_forks(path) == 0 and
                                          time.monotonic() < deadline + 5):
        samples.append(drv.stats(path).pids_current)
        time.sleep(0.01)
    assert drv.stats(path).pids_limit == 24
    assert max(samples) <= 24  # never beyond the limit
    # The bomb really pushed against it: the kernel counted refused forks. (Sampling
    # pids.current for a peak misses it under load: the bomb's processes die in bursts.)
    assert _refused_forks(path) > 0
    env.rt.delete(cid, force=True)
    wait(pid)
    assert "fork" in out.read_text().lower()  # the bomb was refused, not just slow


def _refused_forks(path: str) -> int:
    """The pids controller's count of forks refused at the limit (``pids.events`` max)."""
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        events = Path(base) / path / "pids.events"
        if events.exists():
            return int(dict(ln.split() for ln in events.read_text().splitlines())["max"])
    return 0


def test_cpu_quota_half_a_cpu(env: Env) -> None:
    env.write(["sh", "-c", "while :; do :; done"],
              resources={"cpu": {"quota": 50000, "period": 100000}})
    cid = env.new_id()
    pid, _ = env.create(cid)
    env.rt.start(cid)
    drv = cgroups.driver()
    path = f"pycompose/{cid}"
    time.sleep(0.3)
    u0, t0 = drv.stats(path).cpu_usage_ns, time.monotonic()
    time.sleep(2.0)
    u1, t1 = drv.stats(path).cpu_usage_ns, time.monotonic()
    share = (u1 - u0) / ((t1 - t0) * 1e9)
    env.rt.delete(cid, force=True)
    assert wait(pid) == 137
    # The upper bound is the quota at work; the lower one only shows the loop ran (a busy
    # 2-core host may give it less than its half).
    assert 0.2 < share < 0.62, share
