"""The rootful suite's escape checks, run rootless: the user namespace is the boundary, and
nothing a container does reaches host root — mount, module load, raw devices, the host's pid and
network namespaces are all out of reach, and the container's root is the user on the host."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.rootless.conftest import Project

pytestmark = [pytest.mark.root, pytest.mark.slow]

DOCKER_DEFAULT_CAPEFF = "00000000a80425fb"
PROBE = """
services:
  probe:
    image: pycompose-examples/busybox:latest
    build: ../../images/busybox
    networks: [front]
  sleeper:
    image: pycompose-examples/busybox:latest
    command: ["sleep", "600"]
    stop_grace_period: 1s
    networks: [front]
networks:
  front: {}
"""
SCRIPT = (
    "mkdir -p /tmp /mnt/x; mount -t tmpfs none /mnt/x; echo mount=$?;"
    "unshare -n true; echo unshare=$?;"
    "reboot -f; echo reboot=$?;"
    "echo junk > /tmp/m.ko; insmod /tmp/m.ko; echo insmod=$?;"
    "echo h > /proc/sysrq-trigger; echo sysrq=$?;"
    "echo x > /proc/sys/kernel/domainname; echo procsys=$?;"
    "mknod /tmp/sda b 8 0; head -c 1 /tmp/sda >/dev/null; echo rawdev=$?;"
    "head -c 1 /dev/mem >/dev/null; echo devmem=$?;"
    "for p in /proc/[0-9]*; do echo comm=$(cat $p/comm); done;"
    "echo netns=$(readlink /proc/self/ns/net); echo links=$(ls /sys/class/net | tr '\\n' ,);"
    "cat /proc/self/uid_map | sed 's/^/uidmap=/';"
    "grep -E '^(CapEff|Seccomp):' /proc/self/status"
)


def _other_netns(project: Project) -> set[str]:
    """The host's network namespace and the rootless one the bridges live in."""
    pause = int((project.ns_dir() / "pause.pid").read_text().split()[0])
    return {os.readlink("/proc/self/ns/net"), os.readlink(f"/proc/{pause}/ns/net")}


def _code(out: str, op: str) -> int:
    return int(out.split(f"{op}=")[1].split()[0])


def test_privileged_operations_fail_rootless(project: Project) -> None:
    (project.hello / "probe.yaml").write_text(PROBE)
    files = ("-f", "probe.yaml")
    project.ok(*files, "build", "probe")
    project.ok(*files, "up", "-d", "sleeper")  # keeps the namespaces up for the check below
    done = project.compose(*files, "run", "--rm", "-T", "probe", "sh", "-c", SCRIPT)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    for op in ("mount", "unshare", "reboot", "insmod", "sysrq", "procsys", "rawdev", "devmem"):
        assert _code(out, op) != 0, f"{op} succeeded inside the rootless container:\n{out}"
    assert "can't insert '/tmp/m.ko': Operation not permitted" in out, out
    assert "mknod: /tmp/sda: Operation not permitted" in out, out
    comms = {line.split("=", 1)[1] for line in out.splitlines() if line.startswith("comm=")}
    assert comms <= {"sh", "cat"}, out  # the host's pid namespace is not visible
    netns = out.split("netns=")[1].split()[0]
    assert netns not in _other_netns(project), out  # nor the host's network namespace
    links = set(out.split("links=")[1].split()[0].strip(",").split(","))
    assert links == {"lo", "eth0"}, out
    uid_map = [line.split()[1:] for line in out.splitlines() if line.startswith("uidmap=")]
    assert uid_map[0] == ["0", str(project.user.uid), "1"], out  # container root = the user
    assert f"CapEff:\t{DOCKER_DEFAULT_CAPEFF}" in out and "Seccomp:\t2" in out, out
    project.ok(*files, "down", "-v", "-t", "1")


def test_container_processes_belong_to_the_user_and_survive_a_killed_supervisor(
        project: Project) -> None:
    (project.hello / "probe.yaml").write_text(PROBE)
    files = ("-f", "probe.yaml")
    project.ok(*files, "build", "probe")
    project.ok(*files, "up", "-d", "sleeper")
    try:
        top = project.ok(*files, "top", "sleeper")
        pids = [int(m) for m in re.findall(r"^\s*\S+\s+(\d+)\s+\d+\s.*\ssleep \d+\s*$", top, re.M)]
        assert pids, top
        status = Path(f"/proc/{pids[0]}/status").read_text()
        uids = re.search(r"^Uid:\s+(\d+)", status, re.M)
        assert uids and int(uids.group(1)) == project.user.uid, status  # not host root

        supervisor = _supervisor_pid(project)
        os.kill(supervisor, signal.SIGKILL)  # a supervisor we started, by pid
        time.sleep(0.3)
        assert Path(f"/proc/{pids[0]}").exists()  # the container outlives it
        ps = project.ok(*files, "ps")
        assert re.search(r"sleeper.*Up", ps), ps  # re-adopted by the next command
        project.ok(*files, "restart", "sleeper")
        assert re.search(r"sleeper.*Up", project.ok(*files, "ps")), "not running after restart"
    finally:
        project.ok(*files, "down", "-v", "-t", "1")


def _supervisor_pid(project: Project) -> int:
    out = subprocess.run(["ps", "-U", str(project.user.uid), "-o", "pid=,args="], text=True,
                         capture_output=True, timeout=30).stdout
    for line in out.splitlines():
        pid, _, args = line.strip().partition(" ")
        if "compose.orchestrator.daemon" in args and str(project.state) not in args:
            return int(pid)
    raise AssertionError(f"no supervisor among the user's processes:\n{out}")


def test_a_killed_rootless_daemon_is_replaced_and_down_still_cleans(project: Project) -> None:
    """Its namespaces cannot be re-entered once their owner is gone: the next command says
    so, ends what was left in them, and starts a fresh set."""
    (project.hello / "probe.yaml").write_text(PROBE)
    files = ("-f", "probe.yaml")
    project.ok(*files, "build", "probe")
    project.ok(*files, "up", "-d", "sleeper")
    ns_dir = project.ns_dir()
    daemon = int((ns_dir / "daemon.pid").read_text().split()[0])
    old_pasta = int((ns_dir / "pasta.pid").read_text().split()[0])
    os.kill(daemon, signal.SIGKILL)  # the daemon we started (its pause process dies with it)
    ps = project.compose(*files, "ps", "-a")  # a fresh set; what was left in the old is ended
    assert ps.returncode == 0, ps.stdout + ps.stderr
    assert "rootless namespaces" in ps.stderr and "were gone" in ps.stderr, ps.stderr
    assert not _alive(old_pasta)  # the stale pasta was ended, not left holding the old netns
    project.ok(*files, "down", "-t", "1")  # down cleans up after the dead set
    project.ok(*files, "up", "-d", "sleeper")  # and the stack comes back in a new one
    assert re.search(r"sleeper.*Up", project.ok(*files, "ps")), "not running again"
    project.ok(*files, "down", "-v", "-t", "1")
    deadline = time.monotonic() + 10
    while _live_processes(project) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _live_processes(project) == []
    assert not ns_dir.exists()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def _live_processes(project: Project) -> list[str]:
    out = subprocess.run(["ps", "-U", str(project.user.uid), "-o", "pid=,stat=,args="],
                         text=True, capture_output=True, timeout=30).stdout
    return [line for line in out.splitlines() if not line.split()[1].startswith("Z")]
