"""cgroup v2 driver against a fake cgroupfs tree (plain files in a tmp dir)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.cgroups import V1Driver, V2Driver, driver, list_paths, shares_to_weight
from engine.errors import EngineError

RES = {"memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20},
       "cpu": {"quota": 50000, "period": 100000, "shares": 1024, "cpus": "0"},
       "pids": {"limit": 64}}


@pytest.fixture
def fake_v2(tmp_path: Path) -> Path:
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids\n")
    (root / "cgroup.subtree_control").write_text("")
    parent = root / "pycompose"
    parent.mkdir()
    (parent / "cgroup.controllers").write_text("cpuset cpu memory pids\n")
    (parent / "cgroup.subtree_control").write_text("cpu\n")
    return root


def test_probe_picks_version(fake_v2: Path, tmp_path: Path) -> None:
    assert isinstance(driver(fake_v2), V2Driver)
    v1root = tmp_path / "v1"
    (v1root / "memory").mkdir(parents=True)
    (v1root / "memory" / "cgroup.procs").write_text("")
    d = driver(v1root)
    assert isinstance(d, V1Driver) and list(d.hierarchies) == ["memory"]


def test_a_roots_probe_is_made_once(fake_v2: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.rootless import detect

    monkeypatch.setattr(detect, "rootless", lambda: False)
    first = driver(fake_v2)
    (fake_v2 / "cgroup.controllers").unlink()  # (the mounts do not change under a process)
    assert driver(fake_v2) is first


def test_shares_to_weight() -> None:
    assert shares_to_weight(2) == 1
    assert shares_to_weight(262144) == 10000
    assert shares_to_weight(1024) == 39


def _with_swap_file(fake_v2: Path, name: str) -> None:
    # the kernel makes memory.swap.max in every child when swap is accounted; the fake cannot
    (fake_v2 / "pycompose" / name).mkdir()
    (fake_v2 / "pycompose" / name / "memory.swap.max").write_text("max\n")


def test_create_enables_controllers_and_writes_limits(fake_v2: Path) -> None:
    _with_swap_file(fake_v2, "c1")
    V2Driver(fake_v2).create("pycompose/c1", RES)
    assert (fake_v2 / "cgroup.subtree_control").read_text() == "+cpu +cpuset +io +memory +pids"
    # "cpu" was already enabled on the parent: only the missing ones are added
    assert (fake_v2 / "pycompose" / "cgroup.subtree_control").read_text() == \
        "+cpuset +memory +pids"  # the parent offers no io controller
    d = fake_v2 / "pycompose" / "c1"
    assert (d / "memory.max").read_text() == str(64 << 20)
    assert (d / "memory.low").read_text() == str(32 << 20)
    assert (d / "memory.swap.max").read_text() == str(64 << 20)  # swap part only
    assert (d / "cpu.max").read_text() == "50000 100000"
    assert (d / "cpu.weight").read_text() == "39"
    assert (d / "cpuset.cpus").read_text() == "0"
    assert (d / "pids.max").read_text() == "64"


def test_swap_limit_skipped_without_swap_accounting(fake_v2: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    V2Driver(fake_v2).create("pycompose/ns", RES)
    assert not (fake_v2 / "pycompose" / "ns" / "memory.swap.max").exists()
    assert (fake_v2 / "pycompose" / "ns" / "memory.max").read_text() == str(64 << 20)
    assert "swap accounting is off" in caplog.text


def test_unlimited_values(fake_v2: Path) -> None:
    _with_swap_file(fake_v2, "c2")
    V2Driver(fake_v2).create("pycompose/c2", {"memory": {"limit": -1, "swap": -1},
                                              "cpu": {"quota": -1}, "pids": {"limit": 0}})
    d = fake_v2 / "pycompose" / "c2"
    assert (d / "memory.max").read_text() == "max"
    assert (d / "memory.swap.max").read_text() == "max"
    assert (d / "cpu.max").read_text() == "max 100000"
    assert (d / "pids.max").read_text() == "max"


def test_freeze_kill_stats_oom(fake_v2: Path) -> None:
    drv = V2Driver(fake_v2)
    drv.create("pycompose/c3", {})
    d = fake_v2 / "pycompose" / "c3"
    (d / "cgroup.events").write_text("populated 1\nfrozen 1\n")
    drv.freeze("pycompose/c3")
    assert (d / "cgroup.freeze").read_text() == "1" and drv.is_frozen("pycompose/c3")
    (d / "cgroup.kill").write_text("")
    drv.kill_all("pycompose/c3", 9)
    assert (d / "cgroup.kill").read_text() == "1"
    (d / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\n")
    (d / "memory.current").write_text("4096\n")
    (d / "memory.max").write_text("max\n")
    (d / "pids.current").write_text("3\n")
    (d / "pids.max").write_text("10\n")
    (d / "cgroup.procs").write_text("11\n12\n")
    st = drv.stats("pycompose/c3")
    assert (st.cpu_usage_ns, st.memory_usage, st.memory_limit, st.pids_current,
            st.pids_limit) == (1_500_000, 4096, 0, 3, 10)
    assert drv.pids("pycompose/c3") == [11, 12]
    assert not drv.oom_killed("pycompose/c3")
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n")
    assert drv.oom_killed("pycompose/c3")


def test_list_paths_and_path_safety(fake_v2: Path) -> None:
    drv = V2Driver(fake_v2)
    drv.create("pycompose/a", {})
    drv.create("pycompose/b", {})
    assert list_paths("pycompose", fake_v2) == ["pycompose/a", "pycompose/b"]
    with pytest.raises(EngineError, match="relative"):
        drv.create("pycompose/../../etc", {})
    with pytest.raises(EngineError, match="relative"):
        drv.pids("/")


def test_v1_layout_against_fake_tree(tmp_path: Path) -> None:
    root = tmp_path / "v1"
    for c in ("cpu", "cpuset", "memory", "pids", "freezer"):
        (root / c).mkdir(parents=True)
        (root / c / "cgroup.procs").write_text("")
    (root / "cpuset" / "cpuset.cpus").write_text("0-1\n")
    (root / "cpuset" / "cpuset.mems").write_text("0\n")
    drv = V1Driver(root)
    drv.create("pycompose/x", {"memory": {"limit": 1 << 20}, "cpu": {"quota": 20000,
                                                                     "period": 100000},
                               "pids": {"limit": 5}})
    assert (root / "memory/pycompose/x/memory.limit_in_bytes").read_text() == str(1 << 20)
    assert (root / "cpu/pycompose/x/cpu.cfs_quota_us").read_text() == "20000"
    assert (root / "pids/pycompose/x/pids.max").read_text() == "5"
    # cpuset values are copied down level by level, or tasks could not join
    assert (root / "cpuset/pycompose/cpuset.cpus").read_text() == "0-1"
    assert (root / "cpuset/pycompose/x/cpuset.mems").read_text() == "0"
    assert drv.list_paths("pycompose") == ["pycompose/x"]


def test_v1_device_rules(tmp_path: Path) -> None:
    root = tmp_path / "v1"
    (root / "devices").mkdir(parents=True)
    (root / "devices" / "cgroup.procs").write_text("")
    writes: list[tuple[str, str]] = []
    drv = V1Driver(root)
    import engine.cgroups.fs as cgfs

    orig = cgfs.write_value
    try:
        cgfs.write_value = lambda p, v: writes.append((p.name, str(v)))  # type: ignore[assignment]
        drv.create("pycompose/d", {"devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": True, "type": "c", "major": 136, "minor": -1, "access": "rw"}]})
    finally:
        cgfs.write_value = orig
    assert writes == [("devices.deny", "a"), ("devices.allow", "c 1:3 rwm"),
                      ("devices.allow", "c 136:* rw")]
