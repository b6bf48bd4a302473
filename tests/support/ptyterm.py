"""Drive a command through a real pseudo-terminal, as a user at a terminal would.

The command runs in its own session with the pty's slave as its controlling terminal and
stdio; the test holds the master (what the user types and sees) and the slave (to read the
terminal's settings before and after, and to resize it: TIOCSWINSZ makes the kernel send
SIGWINCH to the command, as a terminal emulator does).
"""
from __future__ import annotations

import fcntl
import os
import re
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Mapping, Sequence
from typing import Any

from engine.fdwait import readable


class PtyTerm:
    """One command on a fresh pty (``rows`` x ``cols``)."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str,
                 rows: int = 24, cols: int = 80) -> None:
        self.master, self.slave = os.openpty()
        self.resize(rows, cols)
        self.settings_before = termios.tcgetattr(self.slave)
        self.output = b""
        self.proc = subprocess.Popen(list(argv), stdin=self.slave, stdout=self.slave,
                                     stderr=self.slave, env=dict(env), cwd=cwd,
                                     start_new_session=True, preexec_fn=_take_terminal)

    def settings(self) -> list[Any]:
        """The terminal's current termios settings (compare with :attr:`settings_before`)."""
        return termios.tcgetattr(self.slave)

    def type(self, data: bytes | str) -> None:
        """Send keystrokes."""
        os.write(self.master, data.encode() if isinstance(data, str) else data)

    def resize(self, rows: int, cols: int) -> None:
        """Resize the terminal (the kernel signals its foreground process group)."""
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def expect(self, pattern: bytes | str, timeout: float = 20.0) -> re.Match[bytes]:
        """Read until ``pattern`` (a regex) appears in what was output since the last match."""
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.output)
            if found:
                self.output = self.output[found.end():]
                return found
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"{pattern!r} not seen in {timeout}s; output so far: "
                                     f"{self.output[-2000:]!r}")

    def _read(self, timeout: float) -> bool:
        ready = readable([self.master], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every slave is closed
            return False
        self.output += data
        return bool(data)

    def wait(self, timeout: float = 30.0) -> int:
        """The command's exit code (output keeps being collected meanwhile)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"still running after {timeout}s; output: "
                                 f"{self.output[-2000:]!r}")
        while self._read(0.05):
            pass
        return self.proc.returncode

    def close(self) -> None:
        """Kill the command if it still runs, close both ends."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


def _take_terminal() -> None:
    """In the child, after setsid: make stdin (the pty slave) the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
