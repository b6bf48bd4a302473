"""Facts about processes and cgroups that outlive the shim: identity of a pid (pid + start time,
so a recycled pid is never mistaken for the container), waiting on a non-child, OOM and usage."""
from __future__ import annotations

import contextlib
import logging
import os

from engine.containers import paths
from engine.containers.spec import Process
from engine.fdwait import readable
from engine.procstat import alive as alive  # (re-exported)
from engine.procstat import start_time as start_time

log = logging.getLogger(__name__)


def wait_exit(pid: int, started: int, timeout: float | None) -> bool:
    """Block until the process exits (pidfd, no polling); False on timeout."""
    if not alive(pid, started):
        return True
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not alive(pid, started):  # recycled between the check and the open
            return True
        return bool(readable([fd], timeout))
    finally:
        os.close(fd)


def _driver():  # type: ignore[no-untyped-def]
    from engine.cgroups import driver

    return driver()


def oom_killed(cid: str) -> bool:
    """True when the kernel's OOM killer struck inside the container's cgroup."""
    try:
        return bool(_driver().oom_killed(paths.cgroup_path(cid)))
    except Exception:  # noqa: BLE001 - a missing cgroup means "no evidence of OOM"
        return False


def cgroup_pids(cid: str) -> list[int]:
    """Host pids of every process in the container's cgroup."""
    try:
        return sorted(_driver().pids(paths.cgroup_path(cid)))
    except Exception:  # noqa: BLE001
        return []


def describe(pid: int) -> Process | None:
    """A ``top`` row for one host pid."""
    try:
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    return Process(pid=pid, ppid=int(status["PPid"].strip()),
                   uid=int(status["Uid"].split()[0]), command=cmd or status["Name"].strip())


def signal_group(pid: int, sig: int) -> None:
    """Signal the process group ``pid`` leads (an exec'd process is a session leader under the
    built-in runtime and runc), else ``pid`` and its descendants (crun does not setsid)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
            return
        for target in [pid, *descendants(pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, sig)
    except ProcessLookupError:
        pass
    except OSError as exc:
        log.warning("signal %s to exec %s: %s", sig, pid, exc)


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc/*/stat: the kernel here has no
    /proc/PID/task/TID/children)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(name))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found
