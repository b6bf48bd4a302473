"""cgroup v2 driver: device programs through the recording syscall fake, block I/O, stats, and
the delegated subtree, against fake cgroupfs trees."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.cgroups import V2Driver, devicefilter
from engine.cgroups.delegation import delegated_root, own_cgroup
from engine.cgroups.devices import CGROUP_DEVICE, F_ALLOW_MULTI
from engine.cgroups.v2 import blkio_to_io_weight
from engine.containers.bundle import device_rules
from engine.errors import EngineError
from engine.runtime.syscalls import RecordingSyscalls


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "cgroup.subtree_control").write_text("")
    _parent(root)
    return root


def _parent(root: Path) -> None:
    # a real cgroupfs fills new directories with its files; the fake parent needs them up front
    (root / "pycompose").mkdir()
    (root / "pycompose" / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (root / "pycompose" / "cgroup.subtree_control").write_text("")


def test_create_attaches_a_device_program(tree: Path) -> None:
    s = RecordingSyscalls()
    V2Driver(tree, s).create("pycompose/c", {"devices": device_rules(False)})
    d = str(tree / "pycompose" / "c")
    assert [c for c in s.calls if c[0].startswith(("open_dir", "bpf"))] == [
        ("open_dir", (d,)), ("bpf_prog_query", (d, CGROUP_DEVICE)),
        ("bpf_prog_load", ("pycompose_dev",)),
        ("bpf_prog_attach", (d, 1, CGROUP_DEVICE, F_ALLOW_MULTI))]
    assert s.attached == {d: [1]}
    expected = devicefilter.assemble(devicefilter.compile_rules(device_rules(False)))
    assert s.programs[1] == expected
    opened = {fd for fd in s.fds}
    assert {c[1][0] for c in s.calls if c[0] == "close"} == opened  # every fd closed


def test_update_replaces_the_program_new_first(tree: Path) -> None:
    s = RecordingSyscalls()
    drv = V2Driver(tree, s)
    drv.create("pycompose/c", {"devices": device_rules(False)})
    s.calls.clear()
    drv.update("pycompose/c", {"devices": device_rules(True)})
    d = str(tree / "pycompose" / "c")
    names = [c[0] for c in s.calls if c[0].startswith("bpf")]
    # the new program is attached before the old one is detached: never unfiltered
    assert names == ["bpf_prog_query", "bpf_prog_load", "bpf_prog_attach",
                     "bpf_prog_get_fd_by_id", "bpf_prog_detach"]
    assert s.attached == {d: [2]}


def test_delete_detaches_then_removes(tree: Path) -> None:
    s = RecordingSyscalls()
    drv = V2Driver(tree, s)
    drv.create("pycompose/c", {"devices": device_rules(False)})
    drv.delete("pycompose/c")
    assert s.attached == {str(tree / "pycompose" / "c"): []}
    assert "bpf_prog_detach" in s.names() and not drv.exists("pycompose/c")


def test_bpf_failure_is_an_engine_error_naming_the_cgroup(tree: Path) -> None:
    s = RecordingSyscalls(fail_on={"bpf_prog_load": PermissionError(1, "Operation not "
                                                                     "permitted")})
    with pytest.raises(EngineError, match="bpf load") as e:
        V2Driver(tree, s).create("pycompose/c", {"devices": device_rules(False)})
    assert "pycompose/c" in str(e.value)


def test_no_device_rules_no_program(tree: Path) -> None:
    s = RecordingSyscalls()
    V2Driver(tree, s).create("pycompose/c", {"memory": {"limit": 1 << 20}})
    assert not [n for n in s.names() if n.startswith("bpf")]


def test_block_io_weight_and_throttles(tree: Path) -> None:
    written: list[str] = []
    drv = V2Driver(tree, RecordingSyscalls())
    drv.create("pycompose/io", {})
    import engine.cgroups.fs as cgfs
    real = cgfs.write_value

    def capture(p: Path, v: str | int) -> None:
        # io.weight and io.max take one line per write: keep every write, not the file's last
        if p.name in ("io.weight", "io.max"):
            written.append(f"{p.name}: {v}")
        else:
            real(p, v)

    cgfs.write_value = capture  # type: ignore[assignment]
    try:
        drv.update("pycompose/io", {"blockIO": {
            "weight": 500,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}]}})
    finally:
        cgfs.write_value = real
    assert written == ["io.weight: default 4950", "io.weight: 8:0 10000",
                       "io.max: 8:0 rbps=1048576", "io.max: 8:16 wiops=100"]
    assert (blkio_to_io_weight(10), blkio_to_io_weight(1000)) == (1, 10000)


def test_stats_read_memory_stat_and_io_stat(tree: Path) -> None:
    drv = V2Driver(tree, RecordingSyscalls())
    drv.create("pycompose/s", {})
    d = tree / "pycompose" / "s"
    (d / "memory.stat").write_text("anon 100\nfile 300\ninactive_file 200\n")
    (d / "io.stat").write_text("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
                               "254:0 rbytes=10 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n")
    st = drv.stats("pycompose/s")
    assert (st.memory_inactive_file, st.io_read_bytes, st.io_write_bytes) == (200, 4106, 8192)


def _delegated_tree(tmp_path: Path, uid: int) -> tuple[Path, str]:
    mount = tmp_path / "mnt"
    leaf = mount / "user.slice" / "user-1000.slice" / "user@1000.service" / "app.slice"
    leaf.mkdir(parents=True)
    for d in (mount, *[p for p in leaf.parents if mount in p.parents], leaf):
        for f in ("cgroup.procs", "cgroup.subtree_control"):
            (d / f).write_text("")
    for d in (mount / "user.slice/user-1000.slice/user@1000.service", leaf):
        for p in (d, d / "cgroup.procs", d / "cgroup.subtree_control"):
            os.chown(p, uid, uid)
    return mount, "0::/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope\n"


def test_delegated_subtree_is_the_highest_owned_ancestor(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    mount, text = _delegated_tree(tmp_path, 1000)
    assert delegated_root(mount, text, uid=1000) == \
        mount / "user.slice/user-1000.slice/user@1000.service"
    assert delegated_root(mount, text, uid=0) == mount           # root uses the whole tree
    assert delegated_root(mount, text, uid=2000) == mount        # nothing delegated: the mount
    assert delegated_root(mount, "0::/../../etc\n", uid=1000) == mount
    assert own_cgroup("12:pids:/x\n0::/a/b\n") == "a/b"
    # and a driver rooted there creates the container's cgroup inside the subtree
    drv = V2Driver(delegated_root(mount, text, uid=1000), RecordingSyscalls())
    (drv.root / "cgroup.controllers").write_text("cpu memory pids\n")
    _parent(drv.root)
    drv.create("pycompose/c", {"pids": {"limit": 10}})
    assert (mount / "user.slice/user-1000.slice/user@1000.service/pycompose/c/pids.max"
            ).read_text() == "10"
    assert (drv.root / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"
