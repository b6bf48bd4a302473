"""The client side of ``exec -t``: raw mode for the caller's terminal, window size, and the
relay between the caller's stdio, the pty master and the shim's reply socket."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import selectors
import socket
import termios
import tty
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def raw(fd: int | None) -> Iterator[None]:
    """Put ``fd`` in raw mode if it is a terminal; restore it afterwards."""
    if fd is None or not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def copy_window_size(src: int, dest: int) -> None:
    """Give the pty the caller's terminal size (when the caller has one)."""
    if not os.isatty(src):
        return
    size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
    fcntl.ioctl(dest, termios.TIOCSWINSZ, size)


def relay(sock: socket.socket, master: int, stdin: int | None, stdout: int | None,
          on_started: Callable[[bytes], None]) -> int:
    """Pump bytes until the shim reports the exit; return the exit code."""
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "sock")
    sel.register(master, selectors.EVENT_READ, "master")
    if stdin is not None:
        sel.register(stdin, selectors.EVENT_READ, "stdin")
    replies = b""
    started = False
    while True:
        for key, _ in sel.select():
            if key.data == "master" and not _pump(master, stdout):
                sel.unregister(master)
            elif key.data == "stdin" and not _copy(stdin, master):  # type: ignore[arg-type]
                sel.unregister(stdin)  # type: ignore[arg-type]
                os.write(master, b"\x04")  # input ended: EOF for the line discipline
            elif key.data == "sock":
                chunk = sock.recv(4096)
                replies += chunk if chunk else b'{"exit": 137}\n'  # shim gone: like docker
                lines = replies.split(b"\n")
                if not started and len(lines) > 1:
                    on_started(lines[0])
                    started = True
                if len(lines) > 2:
                    _drain(master, stdout)
                    return int(json.loads(lines[1])["exit"])


def _pump(master: int, stdout: int | None) -> bool:
    try:
        data = os.read(master, 65536)
    except OSError as exc:
        if exc.errno == errno.EIO:  # every slave closed
            return False
        raise
    if data and stdout is not None:
        os.write(stdout, data)
    return bool(data)


def _copy(src: int, dest: int) -> bool:
    data = os.read(src, 65536)
    if data:
        os.write(dest, data)
    return bool(data)


def _drain(master: int, stdout: int | None) -> None:
    os.set_blocking(master, False)
    try:
        while _pump(master, stdout):
            pass
    except BlockingIOError:
        pass
