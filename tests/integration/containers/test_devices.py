"""Device isolation like docker's: a container may mknod anything but open only docker's list and
what ``devices:`` grants. Runs on cgroup v1 here (devices controller) and on cgroup v2 in the
QEMU guest (tests/cgv2: eBPF device program) — the same assertions on both.

The block device a container must not reach is a scratch disk: the guest's extra virtio disk
(``PYCOMPOSE_TEST_SCRATCH_DISK``) or a loop device over a temporary file on the host, never a
real disk, since a broken filter would let the write through.
"""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.containers as containers
from engine.containers import DeviceMapping

pytestmark = pytest.mark.root

EPERM = "Operation not permitted"


@pytest.fixture
def scratch_disk(tmp_path: Path) -> Iterator[str]:
    """A block device whose contents do not matter."""
    given = os.environ.get("PYCOMPOSE_TEST_SCRATCH_DISK")
    if given:
        yield given
        return
    if shutil.which("losetup") is None or not os.path.exists("/dev/loop-control"):
        pytest.skip("no scratch block device: no loop devices here")
    backing = tmp_path / "disk.img"
    with open(backing, "wb") as f:
        f.truncate(16 << 20)  # sparse
    dev = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True,
                         text=True)
    if dev.returncode != 0:
        pytest.skip(f"cannot attach a loop device: {dev.stderr.strip()}")
    try:
        yield dev.stdout.strip()
    finally:
        subprocess.run(["losetup", "-d", dev.stdout.strip()], check=True)


def _numbers(path: str) -> tuple[int, int]:
    rdev = os.stat(path).st_rdev
    assert stat.S_ISBLK(os.stat(path).st_mode), path
    return os.major(rdev), os.minor(rdev)


def _probe(name: str, kind: str, major: int, minor: int, op: str) -> str:
    """Shell lines: mknod a node, then read (r) or write (w) it; print ``name=ok|<error>``."""
    # stderr is redirected first: the shell reports a failed ``>`` open itself
    io = f"head -c 1 /tmp/{name} >/dev/null" if op == "r" else f"printf x > /tmp/{name}"
    return (f"mknod /tmp/{name} {kind} {major} {minor} || echo {name}=mknod-failed;"
            f"if 2>/tmp/{name}.err {io}; then echo {name}=ok;"
            f" else echo {name}=$(cat /tmp/{name}.err); fi;")


def _results(out: str) -> dict[str, str]:
    return {k: v for k, _, v in (line.partition("=") for line in out.splitlines()) if v}


def _run(engine, name: str, script: str, **kw: object) -> dict[str, str]:  # type: ignore[no-untyped-def]
    info = engine.run(engine.spec(name, script, **kw))
    assert containers.wait(info.id, timeout=30).code == 0
    out = engine.output(info.id)
    return _results(out)


def test_default_container_cannot_open_host_devices(engine, scratch_disk: str) -> None:
    major, minor = _numbers(scratch_disk)
    script = (_probe("blk_r", "b", major, minor, "r") + _probe("blk_w", "b", major, minor, "w")
              + _probe("mem", "c", 1, 1, "r") + _probe("kmsg", "c", 1, 11, "r")
              + _probe("port", "c", 1, 4, "r") + _probe("fuse", "c", 10, 229, "r")
              # control: a node made the same way for an allowed device opens fine, so the
              # failures above come from the device policy, not from a nodev mount
              + _probe("null", "c", 1, 3, "r"))
    res = _run(engine, "nodev", script)
    assert res.pop("null") == "ok", res
    for probe in ("blk_r", "blk_w", "mem", "kmsg", "port", "fuse"):
        assert EPERM in res[probe], f"{probe}: {res[probe]}"


def test_docker_default_devices_work(engine) -> None:
    script = (
        "head -c 4 /dev/zero | wc -c | sed 's/^ */zero=/';"
        "echo x > /dev/null && echo null=ok;"
        "2>/tmp/e echo x > /dev/full || echo full=$(cat /tmp/e);"
        "head -c 8 /dev/urandom | wc -c | sed 's/^ */urandom=/';"
        "head -c 8 /dev/random | wc -c | sed 's/^ */random=/';"
        "mknod /tmp/tty c 5 0; cat /tmp/tty 2>/tmp/e </dev/null; echo tty=$(cat /tmp/e)x;"
        "mknod /tmp/console c 5 1; (head -c 0 /tmp/console) 2>/tmp/e; echo console=$(cat /tmp/e)x;"
        "mknod /tmp/tun c 10 200; (head -c 0 /tmp/tun) 2>/tmp/e; echo tun=$(cat /tmp/e)x;"
        "exec 3<>/dev/ptmx && echo ptmx=ok; ls /dev/pts | grep -q '^[0-9]' && echo pts=ok;"
    )
    res = _run(engine, "alloweddev", script)
    assert res["zero"] == "4" and res["urandom"] == "8" and res["random"] == "8", res
    assert res["null"] == "ok" and res["ptmx"] == "ok" and res["pts"] == "ok", res
    assert "No space left on device" in res["full"], res  # /dev/full opened and wrote
    for dev in ("tty", "console", "tun"):  # opened or failed for a reason other than policy
        assert EPERM not in res[dev], f"{dev}: {res[dev]}"


def test_devices_grant_exactly_the_listed_device(engine, scratch_disk: str) -> None:
    major, minor = _numbers(scratch_disk)
    script = (
        "if head -c 1 /dev/granted >/dev/null 2>/tmp/e; then echo granted_r=ok;"
        " else echo granted_r=$(cat /tmp/e); fi;"
        "if 2>/tmp/e printf x > /dev/granted; then echo granted_w=ok;"
        " else echo granted_w=$(cat /tmp/e); fi;"
        + _probe("other", "b", major, minor + 1, "r") + _probe("mem", "c", 1, 1, "r")
        + "ls -l /dev/granted | cut -c1 | sed 's/^/kind=/';"
    )
    res = _run(engine, "granted", script,
               devices=(DeviceMapping(scratch_disk, "/dev/granted", "r"),))
    assert res["kind"] == "b", res
    assert res["granted_r"] == "ok", res
    assert EPERM in res["granted_w"], res  # granted read-only
    assert EPERM in res["other"] and EPERM in res["mem"], res  # nothing else came with it


def test_blkio_limits_reach_the_cgroup(engine, scratch_disk: str) -> None:
    from engine import cgroups
    from engine.cgroups.v2 import blkio_to_io_weight
    from engine.containers import Resources, paths

    major, minor = _numbers(scratch_disk)
    res = Resources(blkio_weight=300, device_read_bps=((scratch_disk, 1 << 20),),
                    device_write_iops=((scratch_disk, 40),))
    # read 256 KiB far from where other tests read (no page cache), then wait to be sampled
    script = "dd if=/dev/sd of=/dev/null bs=64k skip=120 count=4 2>/dev/null; echo read; sleep 30"
    info = engine.run(engine.spec("blkio", script, resources=res,
                                  devices=(DeviceMapping(scratch_disk, "/dev/sd", "r"),)))
    deadline = time.monotonic() + 60
    while "read" not in engine.output(info.id):
        assert time.monotonic() < deadline, engine.output(info.id)
        time.sleep(0.1)
    assert containers.stats(info.id).block_read >= 256 << 10  # io.stat / blkio accounting
    drv = cgroups.driver()
    rel = paths.cgroup_path(info.id)
    if drv.version == 2:
        io_max = (drv.root / rel / "io.max").read_text()  # type: ignore[attr-defined]
        assert f"{major}:{minor} rbps=1048576 wbps=max riops=max wiops=40" in io_max
        weight = (drv.root / rel / "io.weight").read_text()  # type: ignore[attr-defined]
        assert f"default {blkio_to_io_weight(300)}" in weight
    else:
        blkio = Path("/sys/fs/cgroup/blkio") / rel
        assert (blkio / "blkio.throttle.read_bps_device").read_text().split() == [
            f"{major}:{minor}", "1048576"]
        assert (blkio / "blkio.throttle.write_iops_device").read_text().split() == [
            f"{major}:{minor}", "40"]
    containers.kill(info.id, 9)
    containers.wait(info.id, timeout=10)
