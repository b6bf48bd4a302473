"""Spec features end to end: mounts, read-only rootfs, init, sysctls, ulimits, networks, build."""
from __future__ import annotations

import resource
from pathlib import Path

import pytest

import engine.containers as containers
from engine.containers.spec import Mount, MountType, NetworkMode
from engine.errors import EngineError

pytestmark = pytest.mark.root


def _run(engine, name: str, script: str, **kw: object) -> str:
    info = engine.run(engine.spec(name, script, **kw))
    status = containers.wait(info.id, timeout=10)
    out = engine.output(info.id)
    assert status.code == 0, out
    return out


def test_bind_tmpfs_and_read_only_mounts(engine, tmp_path: Path) -> None:
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "given").write_text("from host\n")
    mounts = (
        Mount(MountType.BIND, "/data", str(rw)),
        Mount(MountType.BIND, "/conf", str(ro), read_only=True),
        Mount(MountType.TMPFS, "/scratch", tmpfs_size=1024 * 1024),
        Mount(MountType.BIND, "/made", str(tmp_path / "created"), create_host_path=True),
    )
    script = ("echo hi > /data/out; cat /conf/given; touch /conf/x 2>/dev/null || echo conf-ro;"
              "grep ' /scratch ' /proc/mounts; touch /made/y")
    out = _run(engine, "mounts", script, mounts=mounts)
    assert (rw / "out").read_text() == "hi\n"
    assert "from host" in out and "conf-ro" in out
    assert "tmpfs" in out and "size=1024k" in out
    assert (tmp_path / "created" / "y").exists()


def test_read_only_rootfs_and_writable_upper_otherwise(engine) -> None:
    out = _run(engine, "ro-root", "touch /x 2>/dev/null || echo root-ro; touch /dev/shm/ok && "
               "echo shm-rw", read_only=True)
    assert "root-ro" in out and "shm-rw" in out
    info = engine.run(engine.spec("rw-root", "echo data > /etc/created"))
    containers.wait(info.id, timeout=10)
    from engine.containers import paths

    assert (paths.upper_dir(info.id) / "etc" / "created").read_text() == "data\n"
    assert not (engine.rootfs / "etc" / "created").exists()  # the image layer is untouched


def test_init_reaps_as_pid_1(engine) -> None:
    if containers.lifecycle.host_facts().init_binary is None:
        pytest.skip("tini-static missing (apt-get install tini)")
    script = "(sleep 0.05 &); sleep 0.3; echo ppid=$PPID; cat /proc/1/comm; cat /proc/[0-9]*/stat"
    out = _run(engine, "with-init", script, init=True)
    assert "ppid=1\ndocker-init\n" in out  # tini is PID 1, the command its child
    states = [line.rsplit(")", 1)[1].split()[0] for line in out.splitlines() if ") " in line]
    assert states and "Z" not in states  # the orphaned sleep was reaped


def test_namespaced_sysctls(engine) -> None:
    out = _run(engine, "sysctl", "cat /proc/sys/net/ipv4/ip_forward",
               sysctls={"net.ipv4.ip_forward": "1"})
    assert out == "1\n"


def test_ulimits_env_workdir_shm(engine) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    script = ("ulimit -n; ulimit -Hn; echo $FOO; pwd; df -k /dev/shm | tail -1; echo $PATH")
    out = _run(engine, "knobs", script, ulimits={"nofile": (256, hard + 1000)},
               env=("FOO=bar",), working_dir="/tmp", shm_size=8 * 1024 * 1024)
    lines = out.splitlines()
    assert lines[0] == "256"
    assert lines[1] == str(hard)  # clamped to the host's hard limit
    assert lines[2:4] == ["bar", "/tmp"]
    assert lines[4].split()[1] == "8192"
    assert lines[5].startswith("/usr/local/sbin")


def test_network_none_host_and_joined_netns(engine, tmp_path: Path) -> None:
    out = _run(engine, "net-none", "ls /sys/class/net")
    assert out.split() == ["lo"]
    before = {p.name for p in Path("/sys/class/net").iterdir()}
    out = _run(engine, "net-host", "ls /sys/class/net", network_mode=NetworkMode.HOST)
    after = {p.name for p in Path("/sys/class/net").iterdir()}
    assert before & after <= set(out.split())  # other tests may add/remove links meanwhile
    info = engine.run(engine.spec("netns-owner", "sleep 30"))
    netns = f"/proc/{info.pid}/ns/net"
    out = _run(engine, "net-joined", "readlink /proc/self/ns/net", netns_path=netns)
    import os

    assert out.strip() == os.readlink(netns)


def test_run_build_step_keeps_only_the_upper_dir(engine, state_root: Path,
                                                 tmp_path: Path) -> None:
    upper = tmp_path / "layer" / "diff"
    code, out = containers.run_build_step(
        layers=[engine.rootfs], upper_dir=upper,
        argv=["sh", "-c", "mkdir -p /app && echo built > /app/file; echo step output; id -u"],
        env=["A=1"], working_dir="/", network="none")
    assert code == 0
    assert out == b"step output\n0\n"
    assert (upper / "app" / "file").read_text() == "built\n"
    assert containers.list() == []
    code, out = containers.run_build_step(layers=[engine.rootfs], upper_dir=upper,
                                          argv=["sh", "-c", "cat /app/file; exit 4"])
    assert (code, out) == (4, b"built\n")
    code, _ = containers.run_build_step(layers=[engine.rootfs], upper_dir=upper,
                                        argv=["/no/such"])
    assert code == 127
    with open("/proc/self/mountinfo") as f:
        assert str(state_root) not in f.read()


def test_pid_and_ipc_namespaces_shared_with_another_container(engine) -> None:
    owner = engine.run(engine.spec("ns-owner", "sleep 30"))
    out = _run(engine, "ns-guest", "readlink /proc/self/ns/pid; readlink /proc/self/ns/ipc; cat "
               "/proc/1/cmdline", pid_mode=f"container:{owner.name}",
               ipc_mode=f"container:{owner.id}")
    import os

    lines = out.splitlines()
    assert lines[0] == os.readlink(f"/proc/{owner.pid}/ns/pid")
    assert lines[1] == os.readlink(f"/proc/{owner.pid}/ns/ipc")
    assert lines[2].startswith("sleep")  # PID 1 is the owner's init


def test_missing_bind_source_is_a_clear_error(engine, tmp_path: Path) -> None:
    info = engine.create(engine.spec("nosrc", "true", mounts=(
        Mount(MountType.BIND, "/x", str(tmp_path / "absent")),)))
    with pytest.raises(EngineError, match="bind source path does not exist"):
        containers.start(info.id)
