"""The container init's steps run in runc's order (recording syscall fake, no root)."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from engine.runtime import init as init_mod
from engine.runtime import process as proc_steps
from engine.runtime import syscalls as sc
from engine.runtime.spec import plan_from_config
from tests.integration.runtime.bundles import DENY_PROFILE, make_config


def _plan(tmp_path: Path, **kw: object):  # type: ignore[no-untyped-def]
    config = make_config(["sh", "-c", "true"], seccomp=DENY_PROFILE, **kw)  # type: ignore[arg-type]
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10]}
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    return plan_from_config(config, tmp_path, "c1")


def _run(plan, fake: sc.RecordingSyscalls, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(proc_steps, "find_executable", lambda proc: "/bin/sh")
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ctx = init_mod.InitContext(plan=plan, process=plan.process, s=fake, sock=child)
    init_mod.enter_namespaces(plan, child, fake, "c1")
    init_mod.run_steps(init_mod.container_steps(plan), ctx)
    init_mod.finish(ctx, wait=False)
    assert b'"ready"' in parent.recv(100)
    parent.close()


def _first(calls: list[tuple[str, tuple]], pred) -> int:  # type: ignore[no-untyped-def]
    return next(i for i, c in enumerate(calls) if pred(c))


def test_steps_run_in_runc_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = sc.RecordingSyscalls(files={"/proc/timer_list"}, dirs={"/proc/sys", "/proc/acpi"})
    plan = _plan(tmp_path)
    _run(plan, fake, monkeypatch)
    calls = fake.calls
    order = [
        _first(calls, lambda c: c[0] == "unshare"),
        _first(calls, lambda c: c[0] == "mount" and c[1][1] == "/"),          # propagation
        _first(calls, lambda c: c[0] == "mount" and c[1][2] == "proc"),
        _first(calls, lambda c: c[0] == "mknod"),
        _first(calls, lambda c: c[0] == "pivot_root"),
        _first(calls, lambda c: c[0] == "umount2"),
        _first(calls, lambda c: c[0] == "sethostname"),
        # sysctls go in before /proc/sys is made read-only (runc's order)
        _first(calls, lambda c: c[0] == "write_file" and "ip_forward" in c[1][0]),
        _first(calls, lambda c: c[0] == "mount" and c[1][1] == "/proc/sys"),  # readonly
        _first(calls, lambda c: c[0] == "mount" and c[1][0] == "/dev/null"),  # masked file
        _first(calls, lambda c: c[0] == "setrlimit"),
        _first(calls, lambda c: c[0] == "setresuid"),
        _first(calls, lambda c: c[0] == "capset"),
        _first(calls, lambda c: c == ("prctl", (sc.PR_SET_NO_NEW_PRIVS, 1, 0))),
        _first(calls, lambda c: c[0] == "load_seccomp"),
        _first(calls, lambda c: c[0] == "execve"),
    ]
    assert order == sorted(order), [calls[i][0] for i in order]
    assert fake.names()[-1] == "execve"
    assert ("mount", ("tmpfs", "/proc/acpi", "tmpfs", sc.MS_RDONLY, "")) in calls  # masked dir
    assert ("mount", ("/dev/null", "/proc/timer_list", "", sc.MS_BIND, "")) in calls


def test_unshare_flags_and_pid_namespace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = sc.RecordingSyscalls()
    _run(_plan(tmp_path), fake, monkeypatch)
    flags = next(c[1][0] for c in fake.calls if c[0] == "unshare")
    for f in (sc.CLONE_NEWPID, sc.CLONE_NEWNS, sc.CLONE_NEWUTS, sc.CLONE_NEWIPC,
              sc.CLONE_NEWNET, sc.CLONE_NEWCGROUP):
        assert flags & f
    assert not flags & sc.CLONE_NEWUSER
    assert ("loopback_up", ()) in fake.calls


def test_seccomp_loads_before_dropping_caps_without_nnp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = sc.RecordingSyscalls()
    _run(_plan(tmp_path, no_new_privs=False), fake, monkeypatch)
    names = fake.names()
    assert names.index("load_seccomp") < names.index("setresuid") < names.index("capset")
    assert ("load_seccomp", (False,)) in fake.calls
    assert not any(c == ("prctl", (sc.PR_SET_NO_NEW_PRIVS, 1, 0)) for c in fake.calls)


def test_joined_namespace_uses_setns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(["true"])
    config["linux"]["namespaces"] = [{"type": "network", "path": "/run/netns/x"},
                                     {"type": "mount"}, {"type": "pid"}]
    (tmp_path / "rootfs").mkdir()
    plan = plan_from_config(config, tmp_path, "c1")
    fake = sc.RecordingSyscalls()
    _run(plan, fake, monkeypatch)
    assert fake.calls[0] == ("setns", ("/run/netns/x", sc.CLONE_NEWNET))
    assert fake.calls[1] == ("unshare", (sc.CLONE_NEWNS | sc.CLONE_NEWPID,))
    assert "loopback_up" not in fake.names()  # a joined netns is configured by its owner


def test_user_switch_keeps_caps_then_drops_bounding(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = sc.RecordingSyscalls()
    _run(_plan(tmp_path), fake, monkeypatch)
    names = fake.names()
    i = names.index("setgroups")
    assert fake.calls[i - 1] == ("prctl", (sc.PR_SET_KEEPCAPS, 1, 0))
    assert fake.calls[i:i + 3] == [("setgroups", ([10],)), ("setresgid", (1000,)),
                                   ("setresuid", (1000,))]
    drops = [c[1][1] for c in fake.calls if c[0] == "prctl" and c[1][0] == sc.PR_CAPBSET_DROP]
    assert 21 in drops and 0 not in drops  # SYS_ADMIN dropped, CHOWN kept
    final = [c for c in fake.calls if c[0] == "capset"][-1]
    assert final[1][0] == 0xa80425fb  # docker's 14 default capabilities


def test_failing_step_is_named(tmp_path: Path) -> None:
    fake = sc.RecordingSyscalls(fail_on={"pivot_root": PermissionError(1, "denied")})
    plan = _plan(tmp_path)
    ctx = init_mod.InitContext(plan=plan, process=plan.process, s=fake)
    with pytest.raises(init_mod.StepFailed) as info:
        init_mod.run_steps(init_mod.container_steps(plan), ctx)
    assert info.value.step == "pivot_root"
    assert "sethostname" not in fake.names()


def test_prestart_hooks_pause_the_init_before_any_mount(tmp_path: Path) -> None:
    config = make_config(["true"])
    config["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    (tmp_path / "rootfs").mkdir()
    plan = plan_from_config(config, tmp_path, "c1")
    steps = init_mod.container_steps(plan)
    assert steps[0][0] == "hooks"
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fake = sc.RecordingSyscalls()
    ctx = init_mod.InitContext(plan=plan, process=plan.process, s=fake, sock=child)
    parent.send(b'{"type": "go"}')
    init_mod.run_steps(steps[:1], ctx)
    assert parent.recv(100) == b'{"type": "hooks"}'
    assert fake.calls == []  # nothing mounted before the hooks ran
