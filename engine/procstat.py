"""A process's identity and liveness from ``/proc/PID/stat``.

A pid with its start time (clock ticks since boot) names one process, never a later one that
got the same pid. A process counts as gone once it has exited: a zombie (``Z``, not yet
reaped) and a dead one (``X``: its parent is reaping it and its pid is still listed for a
moment) are both gone."""
from __future__ import annotations

_GONE = frozenset({"Z", "X", "x"})


def fields(pid: int) -> list[str] | None:
    """The stat fields after the command name (the state first), None if there is no such
    process. The name may hold any bytes, so only what follows its closing parenthesis is
    decoded."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    return parse(stat)


def parse(stat: bytes) -> list[str] | None:
    """Split one ``/proc/PID/stat`` line (see :func:`fields`); None if it is cut short."""
    end = stat.rfind(b")")
    tail = stat[end + 2:].decode("ascii", "replace").split() if end >= 0 else []
    return tail if len(tail) > 19 else None


def start_time(pid: int) -> int:
    """The process's start time, 0 if there is no such process (a zombie still has one)."""
    stat = fields(pid)
    return int(stat[19]) if stat else 0


def live_start(pid: int) -> int | None:
    """The start time of ``pid`` while it has not exited, else None."""
    stat = fields(pid)
    return int(stat[19]) if stat is not None and stat[0] not in _GONE else None


def running(pid: int) -> bool:
    """True while ``pid`` is a process that has not exited."""
    return live_start(pid) is not None


def alive(pid: int, started: int) -> bool:
    """True while ``pid`` is the process that started at ``started`` and has not exited."""
    return live_start(pid) == started
