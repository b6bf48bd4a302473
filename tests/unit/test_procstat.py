"""Reading a process's state and start time from /proc/PID/stat."""
from __future__ import annotations

import os
import signal

import pytest

from engine import procstat


def _line(state: str, start: int, name: bytes = b"sh") -> bytes:
    rest = ["1"] * 18  # ppid .. cstime, priority, nice, threads, itrealvalue
    return b"42 (" + name + b") " + " ".join([state, *rest, str(start), "0"]).encode() + b"\n"


def test_the_name_may_hold_parentheses_spaces_and_any_bytes() -> None:
    stat = procstat.parse(_line("S", 777, b"a) b (\xff\xfe"))
    assert stat is not None and stat[0] == "S" and int(stat[19]) == 777


def test_a_cut_line_is_no_process() -> None:
    assert procstat.parse(b"42 (sh) S 1 2") is None
    assert procstat.parse(b"") is None


@pytest.mark.parametrize("state, alive", [
    ("R", True), ("S", True), ("D", True), ("T", True),
    ("Z", False),  # exited, not yet reaped
    ("X", False),  # being reaped: its pid is still listed for a moment
])
def test_a_process_has_exited_once_it_is_a_zombie_or_dead(monkeypatch, state: str,
                                                          alive: bool) -> None:
    monkeypatch.setattr(procstat, "fields", lambda pid: procstat.parse(_line(state, 777)))
    assert procstat.alive(42, 777) is alive
    assert procstat.running(42) is alive
    assert procstat.alive(42, 778) is False  # another process that got the same pid


def test_a_real_child_is_running_then_a_zombie_then_gone() -> None:
    pid = os.fork()
    if pid == 0:
        signal.pause()
        os._exit(0)
    try:
        started = procstat.start_time(pid)
        assert started > 0 and procstat.alive(pid, started)
    finally:
        os.kill(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, still unreaped
    assert procstat.start_time(pid) == started and not procstat.alive(pid, started)
    os.waitpid(pid, 0)
    assert procstat.start_time(pid) == 0 and not procstat.running(pid)
    assert procstat.fields(0) is None and procstat.fields(-1) is None
