"""create/start/state/exec/pause/resume/kill/delete on real containers."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from engine import cgroups
from engine.errors import Conflict
from engine.runtime import ExecFailed
from tests.integration.runtime.conftest import Env, mounts_under, wait, wait_for_text

pytestmark = pytest.mark.root


def _proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_state_transitions_and_kill(env: Env) -> None:
    env.write(["sh", "-c", "trap 'exit 3' TERM; echo trapped; sleep 60 & wait"])
    cid = env.new_id()
    pid, out = env.create(cid, pid_file=env.tmp / "pid")
    st = env.rt.state(cid)
    assert st["status"] == "created" and st["pid"] == pid and st["id"] == cid
    assert (env.tmp / "pid").read_text() == str(pid)
    assert b"trap" not in Path(f"/proc/{pid}/cmdline").read_bytes()  # not exec'd yet
    env.rt.start(cid)
    assert env.rt.state(cid)["status"] == "running"
    with pytest.raises(Conflict):
        env.rt.start(cid)
    with pytest.raises(Conflict):
        env.rt.delete(cid)
    wait_for_text(out, "trapped")  # PID 1 ignores SIGTERM until it has a handler
    env.rt.kill(cid, signal.SIGTERM)
    assert wait(pid) == 3
    assert env.rt.state(cid)["status"] == "stopped"
    env.rt.delete(cid)
    assert cid not in env.rt.list()


def test_exec_joins_namespaces_and_cgroup(env: Env) -> None:
    env.write(["sleep", "60"], hostname="exectest")
    cid = env.new_id()
    pid, _ = env.create(cid)
    env.rt.start(cid)
    r, w = os.pipe()
    epid = env.rt.exec(cid, {"args": ["sh", "-c", "hostname; sleep 0.3; cat /proc/1/cmdline; echo; "
                                      "echo $$; tail -n1 /proc/self/cgroup"],
                             "env": ["PATH=/bin"], "cwd": "/tmp"},
                       stdin=None, stdout=w, stderr=w)
    os.close(w)
    with os.fdopen(r) as f:
        first = f.readline()  # the exec'd shell is alive until we read its output
        namespaces = {ns: os.readlink(f"/proc/{epid}/ns/{ns}")
                      for ns in ("pid", "mnt", "uts", "ipc", "net", "cgroup")}
        cgroup = Path(f"/proc/{epid}/cgroup").read_text()
        out = first + f.read()
    assert wait(epid) == 0
    for ns, link in namespaces.items():
        assert link == os.readlink(f"/proc/{pid}/ns/{ns}"), ns
        assert link != os.readlink(f"/proc/self/ns/{ns}"), ns
    if env.rt.cgroups.version == 1:
        assert f"pids:/pycompose/{cid}" in cgroup and f"memory:/pycompose/{cid}" in cgroup
    if env.rt.cgroups.v2_dir(f"pycompose/{cid}") is not None:  # born there (clone3), as is
        assert f"0::/pycompose/{cid}\n" in cgroup                 # the init:
        assert f"0::/pycompose/{cid}\n" in Path(f"/proc/{pid}/cgroup").read_text()
    lines = out.splitlines()
    assert lines[0] == "exectest"
    assert lines[1].startswith("sleep")
    assert int(lines[2]) > 1  # a pid inside the container's pid namespace
    assert lines[3].endswith(":/")  # cgroup namespace root = the container's cgroup
    assert os.getpid() != epid
    assert Path(f"/proc/{epid}").exists() is False
    with pytest.raises(ExecFailed) as info:
        env.rt.exec(cid, {"args": ["nosuch"], "cwd": "/"}, stdin=None, stdout=None, stderr=None)
    assert info.value.exit_code == 127
    env.rt.delete(cid, force=True)
    wait(pid)


def test_pause_freezes_and_resume_resumes(env: Env) -> None:
    env.write(["sh", "-c", "while :; do :; done"])
    cid = env.new_id()
    pid, _ = env.create(cid)
    env.rt.start(cid)
    drv = cgroups.driver()
    path = f"pycompose/{cid}"
    env.rt.pause(cid)
    assert env.rt.state(cid)["status"] == "paused"
    assert _proc_state(pid) in ("D", "S")  # frozen tasks sleep in the refrigerator
    u0 = drv.stats(path).cpu_usage_ns
    time.sleep(0.3)
    assert drv.stats(path).cpu_usage_ns == u0  # no CPU used while frozen
    env.rt.resume(cid)
    assert env.rt.state(cid)["status"] == "running"
    deadline = time.monotonic() + 5  # generous: the host may be busy
    while drv.stats(path).cpu_usage_ns < u0 + 50_000_000:
        assert time.monotonic() < deadline, "no CPU used after resume"
        time.sleep(0.05)
    env.rt.pause(cid)
    env.rt.delete(cid, force=True)  # a paused container can be force-deleted
    assert wait(pid) == 137


def test_delete_leaves_nothing(env: Env) -> None:
    env.write(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    cid = env.new_id()
    pid, _ = env.create(cid)
    env.rt.start(cid)
    drv = cgroups.driver()
    path = f"pycompose/{cid}"
    deadline = time.monotonic() + 5
    while len(drv.pids(path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    procs = drv.pids(path)
    assert len(procs) == 3
    mnt_ns = os.readlink(f"/proc/{pid}/ns/mnt")
    env.rt.delete(cid, force=True)
    assert wait(pid) == 137
    for p in procs:
        assert not Path(f"/proc/{p}").exists() or \
            Path(f"/proc/{p}/stat").read_text().split()[2] == "Z"
    assert path not in cgroups.list_paths()
    assert not (env.rt.root / cid).exists()
    # the container's mounts lived in its own mount namespace, which is gone
    assert mounts_under(env.bundle / "rootfs") == [str(env.bundle / "rootfs")]
    assert mnt_ns != os.readlink("/proc/self/ns/mnt")


def test_join_network_namespace_by_path(env: Env) -> None:
    holder = subprocess.Popen(["unshare", "-n", "sleep", "60"])
    try:
        time.sleep(0.1)
        ns_path = f"/proc/{holder.pid}/ns/net"
        config_ns = ["pid", "ipc", "uts", "mount", "cgroup"]
        from tests.integration.runtime.bundles import make_config, write_bundle

        config = make_config(["readlink", "/proc/self/ns/net"], namespaces=config_ns)
        config["linux"]["namespaces"].append({"type": "network", "path": ns_path})
        write_bundle(env.bundle, config)
        cid = env.new_id()
        pid, out = env.create(cid)
        env.rt.start(cid)
        assert wait(pid) == 0
        env.rt.delete(cid)
        assert out.read_text().strip() == os.readlink(ns_path)
    finally:
        holder.kill()
        holder.wait()
