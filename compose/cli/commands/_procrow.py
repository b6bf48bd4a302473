"""The columns of ``top`` as docker prints them (its default is ``ps -ef``): UID PID PPID C
STIME TTY TIME CMD, computed from ``/proc/<pid>/stat`` of the host pid."""
from __future__ import annotations

import datetime as dt
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

HEADERS = ("UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD")
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` that ``ps -ef`` shows (times in clock ticks)."""

    tty_nr: int
    utime: int
    stime: int
    starttime: int


def parse_stat(text: str) -> ProcStat:
    """``/proc/<pid>/stat``; the command name may hold spaces and parentheses."""
    fields = text[text.rindex(")") + 2:].split()
    # fields[0] is the state (stat field 3): field N is fields[N - 3]
    return ProcStat(tty_nr=int(fields[4]), utime=int(fields[11]), stime=int(fields[12]),
                    starttime=int(fields[19]))


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def tty_name(tty_nr: int) -> str:
    """``?`` without a terminal, ``pts/N`` for a pseudo-terminal, else ``ttyN``."""
    if tty_nr == 0:
        return "?"
    major, minor = (tty_nr >> 8) & 0xFFF, (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    return f"pts/{minor}" if 136 <= major <= 143 else f"tty{minor}"


def cpu_time(ticks: int) -> str:
    """``[DD-]hh:mm:ss`` of CPU time."""
    seconds = ticks // _TICKS
    days, rest = divmod(seconds, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}-{text}" if days else text


def start_time(started: dt.datetime, now: dt.datetime) -> str:
    """``HH:MM`` today, ``MonDD`` this year, else the year (procps' STIME)."""
    if started.date() == now.date():
        return f"{started:%H:%M}"
    if started.year == now.year:
        return f"{started:%b%d}"
    return f"{started:%Y}"


def ps_row(uid: int, pid: int, ppid: int, command: str, stat: ProcStat, boot: float,
           now: float) -> list[str]:
    """One ``ps -ef`` line of a process started ``stat.starttime`` ticks after ``boot``."""
    started = boot + stat.starttime / _TICKS
    used = (stat.utime + stat.stime) / _TICKS
    percent = int(used * 100 / (now - started)) if now > started else 0
    when = start_time(dt.datetime.fromtimestamp(started), dt.datetime.fromtimestamp(now))
    return [user_name(uid), str(pid), str(ppid), str(percent), when, tty_name(stat.tty_nr),
            cpu_time(stat.utime + stat.stime), command]


def boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def read_stat(pid: int) -> ProcStat | None:
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None  # the process is gone
