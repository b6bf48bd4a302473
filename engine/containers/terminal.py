"""The client side of a terminal session (``exec -t``, ``run -t``, ``attach``): raw mode for the
caller's terminal (restored on every way out, SIGTERM and SIGHUP included), window size at the
start and on SIGWINCH, signals queued for proxying, and the ``exec -t`` relay between the
caller's stdio, the pty master and the shim's reply socket."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import selectors
import signal
import socket
import struct
import termios
import threading
import tty
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

PROXIED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class _Exit(SystemExit):
    """Raised by a terminating signal while the terminal is raw, so ``finally`` restores it."""


@contextlib.contextmanager
def raw(fd: int | None) -> Iterator[None]:
    """Put ``fd`` in raw mode if it is a terminal; restore it afterwards, also when SIGTERM or
    SIGHUP ends this process meanwhile (they unwind as SystemExit(128+N))."""
    if fd is None or not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    with _unwinding_on((signal.SIGTERM, signal.SIGHUP)):
        tty.setraw(fd)
        try:
            yield
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _unwinding_on(signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    def unwind(sig: int, _frame: FrameType | None) -> None:
        raise _Exit(128 + sig)

    with _handlers(signals, unwind):
        yield


@contextlib.contextmanager
def _handlers(signals: tuple[signal.Signals, ...], handler: Any) -> Iterator[None]:
    """Install ``handler`` for ``signals`` (main thread only; elsewhere nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def window_size(fd: int) -> tuple[int, int] | None:
    """(rows, cols) of the terminal ``fd``, None when it is none."""
    if not os.isatty(fd):
        return None
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return (rows, cols) if rows and cols else None


def copy_window_size(src: int, dest: int) -> None:
    """Give the pty the caller's terminal size (when the caller has one)."""
    if not os.isatty(src):
        return
    size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
    fcntl.ioctl(dest, termios.TIOCSWINSZ, size)


@contextlib.contextmanager
def on_resize(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` on every SIGWINCH (the caller's terminal was resized)."""
    def handler(_sig: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            callback()

    with _handlers((signal.SIGWINCH,), handler):
        yield


class SignalQueue:
    """Signals received while proxying: :attr:`fd` becomes readable when one arrives."""

    def __init__(self) -> None:
        self.fd = -1
        self._write = -1
        self._pending: list[int] = []

    def _on_signal(self, sig: int, _frame: FrameType | None) -> None:
        self._pending.append(sig)
        with contextlib.suppress(OSError):
            os.write(self._write, b"s")

    def take(self) -> list[int]:
        """The signals received since the last call."""
        if self.fd >= 0:
            with contextlib.suppress(BlockingIOError):
                os.read(self.fd, 512)
        taken, self._pending = self._pending, []
        return taken


@contextlib.contextmanager
def forwarded_signals(enabled: bool,
                      signals: tuple[signal.Signals, ...] = PROXIED) -> Iterator[SignalQueue]:
    """While active, ``signals`` are queued (for the caller to proxy) instead of acting here."""
    queue = SignalQueue()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield queue
        return
    queue.fd, queue._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        with _handlers(signals, queue._on_signal):
            yield queue
    finally:
        os.close(queue.fd)
        os.close(queue._write)


def relay(sock: socket.socket, master: int, stdin: int | None, stdout: int | None,
          replies: bytes = b"") -> int:
    """Pump bytes until the shim reports the exit (``{"exit": N}`` on ``sock``; ``replies``:
    what was already read from it); return the exit code."""
    sel = selectors.PollSelector()  # not epoll: stdin may be a regular file or /dev/null
    sel.register(sock, selectors.EVENT_READ, "sock")
    sel.register(master, selectors.EVENT_READ, "master")
    if stdin is not None:
        sel.register(stdin, selectors.EVENT_READ, "stdin")
    while b"\n" not in replies:
        for key, _ in sel.select():
            if key.data == "master" and not _pump(master, stdout):
                sel.unregister(master)
            elif key.data == "stdin" and not _copy(stdin, master):  # type: ignore[arg-type]
                sel.unregister(stdin)  # type: ignore[arg-type]
                os.write(master, b"\x04")  # input ended: EOF for the line discipline
            elif key.data == "sock":
                chunk = sock.recv(4096)
                replies += chunk if chunk else b'{"exit": 137}\n'  # shim gone: like docker
    _drain(master, stdout)
    return int(json.loads(replies.partition(b"\n")[0])["exit"])


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
