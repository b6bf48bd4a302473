"""Parsing config.json into an InitPlan (no root)."""
from __future__ import annotations

import logging
import resource
from pathlib import Path

import pytest

from engine.errors import EngineError
from engine.runtime import syscalls as sc
from engine.runtime.capabilities import DOCKER_DEFAULT, mask
from engine.runtime.process import ExecLookupError, find_executable
from engine.runtime.rootfs import create_devices, resolve_in_root
from engine.runtime.spec import (
    ProcessPlan,
    clamp_rlimits,
    load_config,
    parse_mount,
    plan_from_config,
)
from engine.runtime.state import Status, check_allowed
from tests.integration.runtime.bundles import make_config, write_bundle


def test_docker_default_caps_mask() -> None:
    assert len(DOCKER_DEFAULT) == 14
    assert mask(DOCKER_DEFAULT) == 0xa80425fb


def test_mount_options_split_into_flags_propagation_and_data() -> None:
    m = parse_mount({"destination": "/data", "type": "bind", "source": "/src",
                     "options": ["rbind", "ro", "nosuid", "rslave", "size=10m"]})
    assert m.is_bind
    assert m.flags == sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY | sc.MS_NOSUID
    assert m.propagation == (sc.MS_SLAVE | sc.MS_REC,)
    assert m.data == "size=10m"
    rw = parse_mount({"destination": "/x", "type": "tmpfs", "options": ["ro", "rw"]})
    assert rw.flags == 0 and not rw.is_bind


def test_rlimits_clamped_to_host_hard_limit(caplog: pytest.LogCaptureFixture) -> None:
    def fake(res: int) -> tuple[int, int]:
        return (1024, 20000)

    with caplog.at_level(logging.WARNING):
        out = clamp_rlimits([{"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576},
                             {"type": "RLIMIT_NPROC", "soft": 10, "hard": 100}], fake)
    assert out == ((resource.RLIMIT_NOFILE, 20000, 20000), (resource.RLIMIT_NPROC, 10, 100))
    assert "clamped" in caplog.text
    with pytest.raises(EngineError, match="RLIMIT_BOGUS"):
        clamp_rlimits([{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}], fake)


def test_plan_defaults(tmp_path: Path) -> None:
    write_bundle(tmp_path, make_config(["true"]))
    (tmp_path / "rootfs").mkdir()
    plan = plan_from_config(load_config(tmp_path), tmp_path, "abc")
    assert plan.rootfs == str((tmp_path / "rootfs").resolve())
    assert plan.cgroup_path == "pycompose/abc"
    assert plan.hostname == "box"
    assert plan.process.no_new_privileges
    assert [k for k, _ in plan.namespaces][:2] == ["ipc", "uts"]  # user would come first


def test_bad_bundle_errors_name_the_step(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="load bundle.*no config.json"):
        load_config(tmp_path)
    (tmp_path / "config.json").write_text('{"process": {}}')
    with pytest.raises(EngineError, match="process.args"):
        load_config(tmp_path)


def test_resolve_in_root_never_escapes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "evil").symlink_to("/etc/shadow")
    (root / "up").symlink_to("../../../..")
    assert resolve_in_root(str(root), "/etc/evil") == str(root / "etc" / "shadow")
    assert resolve_in_root(str(root), "/up/x") == str(root / "x")
    assert resolve_in_root(str(root), "../../a") == str(root / "a")


def test_find_executable_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    tool = tmp_path / "bin" / "tool"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    data = tmp_path / "bin" / "data"
    data.write_text("x")
    env = {"PATH": str(tmp_path / "bin")}
    assert find_executable(ProcessPlan(args=("tool",), env=env, cwd="/")) == str(tool)
    with pytest.raises(ExecLookupError) as nf:
        find_executable(ProcessPlan(args=("nosuch",), env=env, cwd="/"))
    assert nf.value.exit_code == 127 and "not found in $PATH" in str(nf.value)
    with pytest.raises(ExecLookupError) as perm:
        find_executable(ProcessPlan(args=(str(data),), env=env, cwd="/"))
    assert perm.value.exit_code == 126
    with pytest.raises(ExecLookupError) as isdir:
        find_executable(ProcessPlan(args=(str(tmp_path),), env=env, cwd="/"))
    assert isdir.value.exit_code == 126


def test_devices_fall_back_to_bind_when_mknod_denied(tmp_path: Path) -> None:
    (tmp_path / "rootfs").mkdir()
    write_bundle(tmp_path, make_config(["true"]))
    plan = plan_from_config(load_config(tmp_path), tmp_path, "c")
    fake = sc.RecordingSyscalls(fail_on={"mknod": PermissionError(1, "EPERM")})
    create_devices(plan, fake)
    binds = [c[1][:2] for c in fake.calls if c[0] == "mount"]
    assert (("/dev/null", plan.rootfs + "/dev/null")) in binds
    assert len(binds) == 6


def test_state_table() -> None:
    check_allowed("start", Status.CREATED, "c")
    check_allowed("pause", Status.RUNNING, "c")
    for op, status in (("start", Status.RUNNING), ("pause", Status.CREATED),
                       ("resume", Status.RUNNING), ("delete", Status.RUNNING),
                       ("exec", Status.STOPPED)):
        with pytest.raises(EngineError, match=status.value):
            check_allowed(op, status, "c")


def test_exec_process_inherits_container_privileges() -> None:
    from engine.runtime.spec import exec_process

    config = make_config(["sleep", "60"], user={"uid": 1000, "gid": 1000})
    proc = parse_process_for(exec_process(config, {"args": ["id"], "env": ["A=1"]}, False))
    assert proc.args == ("id",) and proc.env == {"A": "1"}
    assert proc.uid == 1000 and proc.no_new_privileges
    assert proc.capabilities is not None and proc.capabilities.bounding == 0xa80425fb
    assert not proc.terminal
    root = parse_process_for(exec_process(config, {"args": ["id"], "user": {"uid": 0}}, True))
    assert root.uid == 0 and root.terminal


def parse_process_for(process: dict) -> ProcessPlan:  # type: ignore[type-arg]
    from engine.runtime.spec import parse_process

    return parse_process(process)
