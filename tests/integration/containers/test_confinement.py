"""A busybox container is isolated and confined like a docker container."""
from __future__ import annotations

from pathlib import Path

import pytest

import engine.containers as containers
from engine.errors import EngineError

pytestmark = pytest.mark.root

DOCKER_DEFAULT_CAPEFF = "00000000a80425fb"


def test_isolated_and_confined(engine) -> None:
    script = (
        "echo pid=$$; hostname; for p in /proc/[0-9]*; do echo comm=$(cat $p/comm); done;"
        "[ -e /proc/kcore ] && echo kcore=$(wc -c < /proc/kcore) || echo kcore=0;"
        "echo timer_list=$(wc -c < /proc/timer_list);"
        "touch /sys/kernel/pc-test 2>/dev/null && echo sys=rw || echo sys=ro;"
        "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status"
    )
    info = engine.run(engine.spec("confined", script, hostname="box1"))
    assert containers.wait(info.id, timeout=10).code == 0
    out = engine.output(info.id)
    assert "pid=1\n" in out
    assert "box1\n" in out
    comms = {line.split("=", 1)[1] for line in out.splitlines() if line.startswith("comm=")}
    assert comms <= {"sh", "cat"}, out  # only its own processes are visible
    assert "kcore=0\n" in out  # masked (when the kernel has one)
    assert "timer_list=0\n" in out  # masked; the host's is not empty
    assert Path("/proc/timer_list").read_bytes()  # ... so the 0 above proves the mask
    assert "sys=ro\n" in out
    assert f"CapEff:\t{DOCKER_DEFAULT_CAPEFF}" in out
    assert "NoNewPrivs:\t0" in out  # docker sets it only with no-new-privileges
    assert "Seccomp:\t2" in out


def test_privileged_operations_fail(engine) -> None:
    script = (
        "mkdir -p /mnt/x; mount -t tmpfs none /mnt/x; echo mount=$?;"
        "unshare -n true; echo unshare=$?;"
        "reboot -f; echo reboot=$?;"
        "echo junk > /tmp/m.ko; insmod /tmp/m.ko; echo insmod=$?;"
        "echo h > /proc/sysrq-trigger; echo sysrq=$?;"
        "echo x > /proc/sys/kernel/domainname; echo procsys=$?;"
    )
    info = engine.run(engine.spec("denied", script))
    assert containers.wait(info.id, timeout=10).code == 0
    out = engine.output(info.id)
    for op in ("mount", "unshare", "reboot", "insmod", "sysrq", "procsys"):
        code = int(out.split(f"{op}=")[1].split()[0])
        assert code != 0, f"{op} succeeded inside the container:\n{out}"
    assert "Operation not permitted" in out
    assert "Read-only file system" in out  # /proc/sys (and /proc/sysrq-trigger where it exists)


def test_user_by_name_with_supplementary_groups(engine) -> None:
    info = engine.run(engine.spec("named-user", "id; echo home=$HOME", user="app"))
    assert containers.wait(info.id, timeout=10).code == 0
    out = engine.output(info.id)
    assert "uid=1000(app) gid=1000(app)" in out
    assert "10(wheel)" in out
    assert "home=/home/app" in out


def test_unknown_user_is_an_error(engine) -> None:
    info = engine.create(engine.spec("no-such-user", "true", user="ghost"))
    with pytest.raises(EngineError, match="ghost"):
        containers.start(info.id)


def test_missing_command_exits_127(engine) -> None:
    info = engine.create(containers.ContainerSpec(name="nocmd", argv=("/no/such/binary",),
                                                  layers=(engine.rootfs,)))
    with pytest.raises(EngineError) as err:
        containers.start(info.id)
    assert getattr(err.value, "exit_code", None) == 127
    assert containers.inspect(info.id).exit_code == 127


def test_exit_code_and_signal_codes(engine) -> None:
    info = engine.run(engine.spec("exit3", "exit 3"))
    assert containers.wait(info.id, timeout=10).code == 3
    info = engine.run(engine.spec("selfkill", "kill -USR1 $$; sleep 5"))
    # PID 1 without a handler ignores SIGUSR1; SIGKILL from outside is 128+9
    containers.kill(info.id, "SIGKILL")
    assert containers.wait(info.id, timeout=10).code == 137
