"""Waits on descriptors numbered above select(2)'s limit of 1024, which a long-lived process that
embeds pycompose reaches (a test session did, and select raised ValueError there)."""
from __future__ import annotations

import fcntl
import os
import resource
import subprocess
import sys
from collections.abc import Iterator

import pytest

from engine.containers import shimd
from engine.fdwait import readable


@pytest.fixture
def high() -> Iterator[int]:
    """The lowest descriptor number a test moves its descriptors to: above 1024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 1200:
        pytest.skip(f"this process may not open descriptors above 1024 (hard limit {hard})")
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    yield 1100
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _above(fd: int, low: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return moved


def test_a_pipe_above_1024_is_watched(high: int) -> None:
    r, w = os.pipe()
    r = _above(r, high)
    try:
        assert r >= 1024
        assert readable([r], 0) == []
        os.write(w, b"x")
        assert readable([r], 5) == [r]
        os.close(w)
        os.read(r, 1)
        assert readable([r], 5) == [r]  # hung up: readable, as select reports it
    finally:
        os.close(r)


def test_ready_members_come_back_in_the_given_order_and_a_pidfd_reports_the_exit(
        high: int) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    pidfd = _above(os.pidfd_open(proc.pid), high)
    r, w = os.pipe()
    try:
        with os.fdopen(os.dup(r), "rb") as f:
            os.write(w, b"y")
            assert readable([pidfd, f, r], 10)[-2:] == [f, r]
            assert readable([pidfd], 10) == [pidfd]  # the process has exited
    finally:
        proc.wait()
        for fd in (pidfd, r, w):
            os.close(fd)


def test_the_fork_servers_ready_pipe_above_1024(high: int) -> None:
    """The case that failed: shimd's start-up handshake with its ready pipe above 1024."""
    read_fd, write_fd = os.pipe()
    read_fd = _above(read_fd, high)
    proc = subprocess.Popen(
        [sys.executable, "-c", "import os; os.write(int(os.environ['FD']), b'ready')"],
        pass_fds=(write_fd,), env={**os.environ, "FD": str(write_fd)})
    os.close(write_fd)
    assert read_fd >= 1024
    assert shimd._wait_ready(proc, read_fd) is True
    assert proc.returncode == 0


def test_a_wait_longer_than_poll_takes_is_cut_to_its_limit() -> None:
    """``stop -t 3000000`` and the like: poll takes at most 2**31-1 ms (select took more)."""
    r, w = os.pipe()
    try:
        os.write(w, b"x")
        assert readable([r], 3_000_000.0) == [r]
    finally:
        os.close(r)
        os.close(w)
