"""The same bundle under runc and under the built-in runtime; and the OCI command line."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import cgroups
from tests.integration.runtime.bundles import DENY_PROFILE
from tests.integration.runtime.conftest import Env, wait_for_text

pytestmark = pytest.mark.root

PROBE = r"""
echo "pid=$$"; echo "host=$(hostname)"; id
grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs|Seccomp):' /proc/self/status
echo "nofile=$(ulimit -n)"; echo "cwd=$(pwd)"; echo "umask=$(umask)"
ls /dev | sort | tr '\n' ' '; echo
ls -ln /dev/null /dev/zero /dev/tty | awk '{print $1, $5, $6, $NF}'
for p in /proc/timer_list /proc/keys /sys/firmware; do
  [ -e $p ] && echo "$p $(ls $p | wc -l) $(cat $p 2>/dev/null | wc -c)"
done
awk '$5 ~ /^\/(proc|sys|dev)/ {print $5, substr($6,1,2), $9}' /proc/self/mountinfo | sort
touch /sys/x 2>&1 | sed 's/.*: //'
mount -t tmpfs t /mnt 2>&1 | sed 's/.*: //'
"""


def test_same_bundle_runs_under_runc(env: Env) -> None:
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc not installed")
    cid = env.new_id()
    # runc refuses rlimits above the host's hard limit (the built-in runtime clamps)
    env.write(["sh", "-c", PROBE], hostname="twin", seccomp=DENY_PROFILE, nofile=20000,
              cgroups_path=f"pycompose/{cid}-runc")
    runc_root = env.tmp / "runc"
    proc = subprocess.run([runc, "--root", str(runc_root), "run", "--bundle", str(env.bundle),
                           cid + "-runc"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    runc_out = proc.stdout
    assert f"pycompose/{cid}-runc" not in cgroups.list_paths()
    code, ours = env.run(["sh", "-c", PROBE], hostname="twin", seccomp=DENY_PROFILE,
                         nofile=20000)
    assert code == 0
    assert "pid=1" in ours and "CapEff:\t00000000a80425fb" in ours
    assert ours.splitlines() == runc_out.splitlines(), (ours, runc_out)


def _cli(root: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "engine.runtime", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=30, **kw)  # type: ignore[call-overload]


def test_oci_command_line(env: Env) -> None:
    root = env.tmp / "cli-state"
    cid = env.new_id()
    env.rt.root = root  # so the env finalizer checks (and cleans) this root
    env.write(["sh", "-c", "trap 'exit 7' TERM; echo started; sleep 60 & wait"])
    out = env.tmp / "cli.out"
    with open(out, "w") as f:
        r = subprocess.run([sys.executable, "-m", "engine.runtime", "--root", str(root),
                            "create", "--bundle", str(env.bundle), "--pid-file",
                            str(env.tmp / "pid"), cid], stdout=f, stderr=f, timeout=30)
    assert r.returncode == 0, out.read_text()
    pid = int((env.tmp / "pid").read_text())
    env.pids.append(pid)
    state = json.loads(_cli(root, "state", cid).stdout)
    assert state["status"] == "created" and state["pid"] == pid
    assert state["ociVersion"] and state["bundle"] == str(env.bundle)
    assert _cli(root, "start", cid).returncode == 0
    assert json.loads(_cli(root, "state", cid).stdout)["status"] == "running"
    ex = _cli(root, "exec", cid, "sh", "-c", "hostname; cat /proc/1/cmdline | tr '\\0' ' '")
    assert ex.returncode == 0 and ex.stdout.startswith("box\nsh -c trap"), ex
    assert _cli(root, "exec", cid, "sh", "-c", "exit 5").returncode == 5
    missing_cmd = _cli(root, "exec", cid, "nosuch")
    assert missing_cmd.returncode == 127 and "not found" in missing_cmd.stderr
    busy = _cli(root, "delete", cid)
    assert busy.returncode == 1 and "running" in busy.stderr and "Traceback" not in busy.stderr
    wait_for_text(out, "started")  # the trap is installed: SIGTERM now ends PID 1
    assert _cli(root, "kill", cid, "TERM").returncode == 0
    deadline = time.monotonic() + 5
    while json.loads(_cli(root, "state", cid).stdout)["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _cli(root, "delete", cid).returncode == 0
    assert "started" in out.read_text()
    missing = _cli(root, "state", cid)
    assert missing.returncode == 1 and "no such container" in missing.stderr


def test_cli_run_exit_status_and_exec_codes(env: Env) -> None:
    root = env.tmp / "cli-run"
    env.write(["sh", "-c", "echo out; exit 42"])
    r = _cli(root, "run", "--bundle", str(env.bundle), env.new_id())
    assert r.returncode == 42 and r.stdout == "out\n"
    env.write(["nosuch-binary"])
    r = _cli(root, "run", "--bundle", str(env.bundle), env.new_id())
    assert r.returncode == 127 and "executable file not found" in r.stderr
    assert os.listdir(root) == []
