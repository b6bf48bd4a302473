"""``top``'s ps -ef columns from /proc/<pid>/stat."""
from __future__ import annotations

import datetime as dt
import os

from compose.cli.commands._procrow import (
    ProcStat,
    boot_time,
    cpu_time,
    parse_stat,
    ps_row,
    read_stat,
    start_time,
    tty_name,
)

TICKS = os.sysconf("SC_CLK_TCK")


def test_parse_stat_with_a_command_name_holding_spaces_and_parens() -> None:
    text = ("42 (my (odd) cmd) S 1 42 42 34817 42 4194560 100 0 0 0 250 150 0 0 20 0 1 0 "
            "12345 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0")
    assert parse_stat(text) == ProcStat(tty_nr=34817, utime=250, stime=150, starttime=12345)


def test_tty_and_cpu_time_like_procps() -> None:
    assert tty_name(0) == "?"
    assert tty_name((136 << 8) | 1) == "pts/1"
    assert tty_name((4 << 8) | 2) == "tty2"
    assert cpu_time(0) == "00:00:00"
    assert cpu_time(3723 * TICKS) == "01:02:03"
    assert cpu_time((86400 + 5) * TICKS) == "1-00:00:05"


def test_start_time_today_this_year_or_the_year() -> None:
    now = dt.datetime(2026, 12, 3, 4, 30)
    assert start_time(dt.datetime(2026, 12, 3, 1, 5), now) == "01:05"
    assert start_time(dt.datetime(2026, 11, 28, 1, 5), now) == "Nov28"
    assert start_time(dt.datetime(2025, 11, 28, 1, 5), now) == "2025"


def test_row_of_this_process() -> None:
    stat = read_stat(os.getpid())
    assert stat is not None
    row = ps_row(0, os.getpid(), os.getppid(), "python", stat, boot_time(), dt.datetime.now()
                 .timestamp())
    assert row[0] == "root" and row[1] == str(os.getpid()) and row[-1] == "python"
    assert row[3].isdigit() and len(row) == 8
    assert read_stat(2 ** 22 + 1) is None  # beyond pid_max: gone
