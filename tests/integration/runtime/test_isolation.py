"""A busybox container on the built-in runtime is isolated like a docker container."""
from __future__ import annotations

import errno
import json

import pytest

from engine import cgroups
from tests.integration.runtime.bundles import DENY_PROFILE
from tests.integration.runtime.conftest import Env, wait

pytestmark = pytest.mark.root

SCRIPT = r"""
echo "pid=$$"
ps -o pid,comm | sed 's/^ */PS /'
echo "hostname=$(hostname)"
touch /sys/x 2>/dev/null && echo sys=rw || echo sys=ro
echo "timer_list=$(wc -c < /proc/timer_list)"
grep -q ' /proc/timer_list ' /proc/self/mountinfo && echo timer_list_masked
[ -e /proc/kcore ] && echo "kcore=$(wc -c < /proc/kcore)"
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -d '\t'
echo "nofile=$(ulimit -n)"
echo 1 > /proc/sysrq-trigger 2>/dev/null && echo sysrq=writable || echo sysrq=denied
grep ' /proc/sys ' /proc/self/mountinfo | awk '{print "procsys=" substr($6, 1, 2)}'
mount -t tmpfs t /mnt 2>&1; echo "mount_rc=$?"
unshare -m true 2>&1; echo "unshare_rc=$?"
reboot -f 2>&1; echo "reboot_rc=$?"
echo junk > /tmp/m.ko; insmod /tmp/m.ko 2>&1 | sed 's/^/INSMOD /'
ls /dev | tr '\n' ' '
"""


def _parse(out: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line
                and ":" not in line.split("=", 1)[0])


def test_busybox_isolation(env: Env) -> None:
    profile = {**DENY_PROFILE,
               "syscalls": [{**DENY_PROFILE["syscalls"][0], "errnoRet": errno.ENOSYS}]}
    code, out = env.run(["sh", "-c", SCRIPT], hostname="isolated", seccomp=profile)
    assert code == 0, out
    v = _parse(out)
    assert v["pid"] == "1"
    ps = [line.split()[1:] for line in out.splitlines() if line.startswith("PS ")][1:]
    assert ps[0] == ["1", "sh"]
    assert all(int(pid) < 10 for pid, _ in ps), ps  # nothing from the host
    assert v["hostname"] == "isolated"
    assert v["sys"] == "ro"
    assert v["timer_list"] == "0" and "timer_list_masked" in out
    assert v.get("kcore", "0") == "0"
    assert "CapEff:00000000a80425fb" in out  # docker's 14 default capabilities
    assert "CapBnd:00000000a80425fb" in out
    assert "NoNewPrivs:1" in out and "Seccomp:2" in out
    assert v["nofile"] == "20000"  # 1048576 requested, clamped to the host hard limit
    assert v["sysrq"] == "denied"
    assert v["procsys"] == "ro"  # readonlyPaths (this kernel has no /proc/sysrq-trigger)
    # ENOSYS (not EPERM) proves the seccomp filter, not missing capabilities, stopped them
    assert v["mount_rc"] != "0" and "not implemented" in out.lower()
    assert v["unshare_rc"] != "0"
    assert v["reboot_rc"] != "0"
    insmod = [line for line in out.splitlines() if line.startswith("INSMOD")]
    assert insmod and "kernel does not support" in insmod[0], insmod  # busybox words ENOSYS
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm",
                "mqueue", "fd", "stdin", "stdout", "stderr"):
        assert dev in out.split(), dev


def test_exec_failures_give_docker_exit_codes(env: Env) -> None:
    from engine.runtime import ExecFailed

    for args, code, text in ((["nosuchcmd"], 127, "not found in $PATH"),
                             (["/etc/passwd"], 126, "permission denied")):
        env.write(args)
        cid = env.new_id()
        with pytest.raises(ExecFailed) as info:
            env.create(cid)
        assert info.value.exit_code == code and text in str(info.value)
        assert cid in str(info.value)


def test_readonly_root_tmpfs_and_bind_mounts(env: Env) -> None:
    host_dir = env.tmp / "shared"
    host_dir.mkdir()
    (host_dir / "hello").write_text("from host\n")
    mounts = [
        {"destination": "/data", "type": "bind", "source": str(host_dir),
         "options": ["rbind", "ro"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "size=1m", "mode=1777"]},
        {"destination": "/etc/app/custom.conf", "type": "bind",
         "source": str(host_dir / "hello"), "options": ["bind", "ro"]},
    ]
    script = ("cat /data/hello; touch /data/x 2>/dev/null || echo data=ro; "
              "touch /rootfile 2>/dev/null || echo root=ro; echo ok > /scratch/f && echo tmp=rw; "
              "stat -c '%a' /scratch; df -k /scratch | tail -1 | awk '{print \"size=\"$2}'; "
              "cat /etc/app/custom.conf")
    code, out = env.run(["sh", "-c", script], readonly=True, extra_mounts=mounts)
    assert code == 0, out
    assert "from host" in out and "data=ro" in out and "root=ro" in out and "tmp=rw" in out
    assert "1777" in out and "size=1024" in out
    assert out.count("from host") == 2  # the single-file bind mount too
    assert not (host_dir / "x").exists()


def test_namespaced_sysctl_then_readonly_proc_sys(env: Env) -> None:
    env.write(["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; "
                           "echo 0 > /proc/sys/net/ipv4/ip_forward || echo ro"])
    config = json.loads((env.bundle / "config.json").read_text())
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    (env.bundle / "config.json").write_text(json.dumps(config))
    cid = env.new_id()
    pid, out = env.create(cid)
    env.rt.start(cid)
    assert wait(pid) == 0
    env.rt.delete(cid)
    assert out.read_text().splitlines()[0] == "1"
    assert out.read_text().splitlines()[-1] == "ro"


def test_user_env_cwd(env: Env) -> None:
    code, out = env.run(["sh", "-c", "id; pwd; echo $GREETING; umask"],
                        user={"uid": 1000, "gid": 1000, "additionalGids": [10]})
    assert code == 0, out
    assert "uid=1000(app) gid=1000(app) groups=10(wheel)" in out
    assert "\n/\n" in out


@pytest.mark.parametrize("cgroupns", [True, False])
def test_container_sees_its_own_cgroup(env: Env, cgroupns: bool) -> None:
    ns = ["pid", "network", "ipc", "uts", "mount"] + (["cgroup"] if cgroupns else [])
    # v1: the pids hierarchy is a directory of the cgroup mount; v2: one unified tree
    pids_dir = "/sys/fs/cgroup" if cgroups.driver().version == 2 else "/sys/fs/cgroup/pids"
    code, out = env.run(["sh", "-c", f"cat {pids_dir}/pids.max; "
                                     f"ls {pids_dir} | grep -c pycompose"],
                        namespaces=ns, resources={"pids": {"limit": 77}})
    assert code == 1, out  # grep -c finds no host "pycompose" directory: exit 1
    assert out.split() == ["77", "0"]


def test_engine_default_seccomp_profile_loads(env: Env) -> None:
    from engine.containers import security
    from engine.runtime.capabilities import DOCKER_DEFAULT

    profile = security.seccomp_profile(list(DOCKER_DEFAULT))
    code, out = env.run(["sh", "-c", "grep Seccomp: /proc/self/status; "
                                     "unshare -U true 2>&1; echo unshare=$?; "
                                     "echo forked-$(echo ok)"],
                        seccomp=profile, no_new_privs=False)
    assert code == 0, out
    assert "Seccomp:\t2" in out and "unshare=1" in out and "forked-ok" in out
