"""A compose stack's cgroup-backed features through the CLI: ``devices:`` grants exactly the listed
device, limits hold, an OOM-killed service exits 137, pause/unpause, and ``down`` leaves no
cgroup. Runs on this cgroup v1 host and, through tests/cgv2, on a cgroup v2 kernel."""
from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from engine import cgroups
from tests.integration.containers.test_devices import scratch_disk  # noqa: F401 - a fixture
from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack

pytestmark = pytest.mark.root

EPERM = "Operation not permitted"
# generous: in the emulated guest (tests/cgv2) one CLI call costs tens of seconds
SLOW = 400.0


def _rows(stack: Stack) -> dict[str, dict[str, object]]:
    rows = [json.loads(r) for r in stack.run("ps", "-a", "--no-trunc", "--format", "json",
                                             timeout=SLOW).stdout.splitlines()]
    return {str(r["Service"]): r for r in rows}


def _wait_logs(stack: Stack, service: str, text: str) -> str:
    deadline = time.monotonic() + SLOW
    while True:  # logs have no "wait for line": poll the CLI like a user would
        out = stack.run("logs", "--no-log-prefix", service, timeout=SLOW).stdout
        if text in out or time.monotonic() > deadline:
            return out
        time.sleep(0.5)


def test_devices_limits_oom_pause_and_down(stack: Stack, scratch_disk: str) -> None:  # noqa: F811
    rdev = os.stat(scratch_disk).st_rdev
    assert stat.S_ISBLK(os.stat(scratch_disk).st_mode)
    major, minor = os.major(rdev), os.minor(rdev)
    probe = ("if 2>/tmp/e head -c 1 /dev/granted >/dev/null; then echo read=ok; "
             "else echo read=$$(cat /tmp/e); fi; "
             "if 2>/tmp/e printf x > /dev/granted; then echo write=ok; "
             "else echo write=$$(cat /tmp/e); fi; "
             f"mknod /tmp/other b {major} {minor + 1}; "
             "if 2>/tmp/e head -c 1 /tmp/other >/dev/null; then echo other=ok; "
             "else echo other=$$(cat /tmp/e); fi; "
             "echo pids=$$(cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/pids/pids.max 2>/dev/null);"
             f" echo probed; {SLEEPER}")
    stack.write(f"""
services:
  disk:
    image: {IMAGE}
    command: ["sh", "-c", "{probe}"]
    devices: ["{scratch_disk}:/dev/granted:r"]
    pids_limit: 33
  hog:
    image: {IMAGE}
    command: ["sh", "-c", "exec tail /dev/zero"]
    mem_limit: 16m
    memswap_limit: 16m
""")
    stack.run("up", "-d", timeout=SLOW)
    out = _wait_logs(stack, "disk", "probed")
    res = dict(line.partition("=")[::2] for line in out.splitlines() if "=" in line)
    assert res["read"] == "ok", out
    assert EPERM in res["write"] and EPERM in res["other"], out
    assert res["pids"] == "33", out
    deadline = time.monotonic() + SLOW
    while (rows := _rows(stack))["hog"]["State"] != "exited":
        assert time.monotonic() < deadline, rows
        time.sleep(0.5)
    assert rows["hog"]["ExitCode"] == 137
    stack.run("pause", "disk", timeout=SLOW)
    assert _rows(stack)["disk"]["State"] == "paused"
    stack.run("unpause", "disk", timeout=SLOW)
    rows = _rows(stack)
    assert rows["disk"]["State"] == "running"
    ids = [str(r["ID"]) for r in rows.values()]
    assert any(ids[0] in p for p in cgroups.list_paths())
    stack.run("down", "-v", "-t", "1", timeout=SLOW)
    left = [p for p in cgroups.list_paths() if any(p.endswith(i) or i in p for i in ids)]
    assert left == []
    assert not any(Path(f"/sys/fs/cgroup/pycompose/{i}").exists() for i in ids)
