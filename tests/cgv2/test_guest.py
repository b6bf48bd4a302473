"""Runs a chosen set of this suite's tests on a real cgroup v2 kernel: Debian's kernel booted under
QEMU (software emulation) with the host's / read-only over 9p (boot.sh, make.sh, init.sh,
guest.sh next to this file). The guest is booted once per session; its pytest writes JUnit XML
to the share directory and every guest test becomes one test here, so a failure in the guest
fails this suite under the guest test's name.

Chosen to prove what differs on cgroup v2: the eBPF device filter (escape checks, docker's
allowed devices, ``devices:`` grants), memory/pids/cpu/io limits, OOM kill reported as 137 with
OOMKilled, pause through cgroup.freeze, cgroup.kill, stats, the delegated subtree, and nothing
left after delete or ``down``. Only the built-in runtime runs there (runc and crun have their own
v2 code). test_lifecycle's 200 MB-pipe OOM test is left out: under emulation its pipe alone
outlasts the wait; the OOM-of-init test proves 137 + OOMKilled on v2.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.cgv2]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCRATCH_DISK = "/dev/vda"
BOOT_TIMEOUT_S = 900

GUEST_TESTS = (
    "tests/integration/cgroups/test_v2_real.py",
    "tests/integration/containers/test_devices.py::test_default_container_cannot_open_host_devices[builtin]",
    "tests/integration/containers/test_devices.py::test_docker_default_devices_work[builtin]",
    "tests/integration/containers/test_devices.py::test_devices_grant_exactly_the_listed_device[builtin]",
    "tests/integration/containers/test_devices.py::test_blkio_limits_reach_the_cgroup[builtin]",
    "tests/integration/containers/test_lifecycle.py::test_pause_freezes_and_unpause_resumes[builtin]",
    "tests/integration/containers/test_lifecycle.py::test_memory_limit_oom_of_init_exits_137[builtin]",
    "tests/integration/containers/test_lifecycle.py::test_pids_limit_holds_a_fork_bomb[builtin]",
    "tests/integration/containers/test_lifecycle.py::test_stop_and_delete_of_a_paused_container[builtin]",
    "tests/integration/containers/test_lifecycle.py::test_delete_leaves_no_mount_cgroup_or_process[builtin]",
    "tests/integration/runtime/test_resources.py::test_memory_limit_ends_in_oom_kill",
    "tests/integration/runtime/test_isolation.py::test_container_sees_its_own_cgroup",
    "tests/integration/orchestrator/test_cli_cgroups.py",
    # the bootstrap's own cgroup join and the child born in the cgroup (clone3), for the init
    # and for exec'd processes
    "tests/integration/cgroups/test_drivers.py::test_join_self_moves_a_forked_child_into_every_hierarchy",
    "tests/integration/cgroups/test_drivers.py::test_the_runtime_forks_a_child_born_in_the_v2_cgroup",
    # the containers' parent cgroup goes with the last of them, never under a creation
    "tests/integration/cgroups/test_drivers.py::test_a_parent_goes_with_its_last_cgroup_but_never_under_a_creation[0]",
    "tests/integration/runtime/test_lifecycle.py::test_exec_joins_namespaces_and_cgroup",
    "tests/integration/containers/test_lifecycle.py::test_exec_runs_in_the_same_namespaces[builtin]",
)


@dataclass(frozen=True, slots=True)
class GuestResult:
    """One test case as the guest's JUnit XML reports it."""

    nodeid: str
    outcome: str  # passed | failed | skipped
    detail: str


@dataclass(frozen=True, slots=True)
class GuestRun:
    """What one boot produced."""

    rc: int
    results: tuple[GuestResult, ...]
    output: str
    wall_s: float


def _missing_capability() -> str:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 missing (bash tests/setup.sh installs qemu-system-x86)"
    if not glob.glob("/boot/vmlinuz-*"):
        return "no kernel in /boot (bash tests/setup.sh installs linux-image-amd64)"
    return ""


def parse_junit(path: Path) -> tuple[GuestResult, ...]:
    """Test cases of a pytest JUnit XML file, with pytest node ids."""
    out = []
    for case in ET.parse(path).getroot().iter("testcase"):
        module, _, cls = case.get("classname", "").partition("::")
        parts = module.split(".")
        # pytest writes "tests.a.test_b" (+ ".Class"): the module is the part naming a file
        idx = max(i for i, p in enumerate(parts) if p.startswith("test_"))
        nodeid = "/".join(parts[: idx + 1]) + ".py"
        for extra in (*parts[idx + 1:], *([cls] if cls else [])):
            nodeid += f"::{extra}"
        nodeid += f"::{case.get('name')}"
        outcome, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome, detail = "failed", (child.get("message") or "") + "\n" + (
                    child.text or "")
            elif child.tag == "skipped":
                outcome, detail = "skipped", child.get("message") or ""
        out.append(GuestResult(nodeid, outcome, detail))
    return tuple(out)


def boot_and_run(share: Path, tests: tuple[str, ...]) -> GuestRun:
    """Boot the guest once, run ``tests`` in it, collect the results."""
    shutil.copy(HERE / "guest.sh", share / "guest.sh")
    (share / "tests.txt").write_text("\n".join(tests) + "\n")
    (share / "env.sh").write_text(
        f"REPO={REPO}\nPYTHON={sys.executable}\n"
        f"export PYCOMPOSE_TEST_SCRATCH_DISK={SCRATCH_DISK}\n")
    env = {**os.environ, "PYCOMPOSE_CGV2_DISK": "64M"}
    t0 = time.monotonic()
    proc = subprocess.run(["bash", str(HERE / "boot.sh"), str(share), str(BOOT_TIMEOUT_S)],
                          env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    output = "".join((share / n).read_text(errors="replace") for n in
                     ("guest-info.txt", "pytest.txt") if (share / n).exists()) + proc.stderr
    junit = share / "junit.xml"
    results = parse_junit(junit) if junit.exists() else ()
    return GuestRun(proc.returncode, results, output, wall)


@pytest.fixture(scope="session")
def guest_run(tmp_path_factory: pytest.TempPathFactory) -> GuestRun:
    why = _missing_capability()
    if why:
        pytest.skip(why)
    run = boot_and_run(tmp_path_factory.mktemp("cgv2-share"), GUEST_TESTS)
    print(f"\ncgv2 guest: rc={run.rc}, {len(run.results)} tests, {run.wall_s:.0f}s wall")
    if run.rc not in (0, 1) or not run.results:  # 1 = some tests failed: reported one by one
        pytest.fail(f"the cgroup v2 guest run failed (exit {run.rc}):\n{run.output[-6000:]}")
    return run


def test_guest_is_pure_cgroup_v2(guest_run: GuestRun) -> None:
    assert "cgroup2 controllers:" in guest_run.output
    line = next(ln for ln in guest_run.output.splitlines() if ln.startswith("cgroup2 control"))
    for controller in ("cpu", "cpuset", "io", "memory", "pids"):
        assert controller in line.split(":", 1)[1].split(), line


@pytest.mark.parametrize("selected", GUEST_TESTS)
def test_in_cgroup_v2_guest(guest_run: GuestRun, selected: str) -> None:
    mine = [r for r in guest_run.results  # a file, a function, or one parametrized case
            if r.nodeid == selected or r.nodeid.startswith((selected + "::", selected + "["))]
    assert mine, f"{selected} did not run in the guest:\n{guest_run.output[-3000:]}"
    for r in mine:
        # a skip in the guest means it lacked what the test probes for: a harness defect
        assert r.outcome == "passed", f"{r.nodeid} {r.outcome} in the cgroup v2 guest:\n{r.detail}"


def test_parse_junit_node_ids(tmp_path: Path) -> None:
    xml = tmp_path / "j.xml"
    xml.write_text(
        '<testsuites><testsuite><testcase classname="tests.integration.cgroups.test_x" '
        'name="test_a[builtin]"/><testcase classname="tests.unit.test_y.TestK" name="test_b">'
        '<failure message="boom">trace</failure></testcase><testcase classname="tests.z.test_c"'
        ' name="test_d"><skipped message="nope"/></testcase></testsuite></testsuites>')
    assert parse_junit(xml) == (
        GuestResult("tests/integration/cgroups/test_x.py::test_a[builtin]", "passed", ""),
        GuestResult("tests/unit/test_y.py::TestK::test_b", "failed", "boom\ntrace"),
        GuestResult("tests/z/test_c.py::test_d", "skipped", "nope"))
