"""The container's standard streams as the shim sets them up.

Without a tty: stdout and stderr are two pipes the shim reads; stdin is /dev/null, or with
``stdin_open`` a pipe whose write end the shim keeps open (docker's ``-i``: without an attached
client reads block instead of seeing EOF; an attached client's input is written to it). With a
tty: the runtime creates the pseudo-terminal and sends its master end over a console socket;
the shim reads the master as one ``stdout`` stream (a terminal merges stderr) and keeps it for
the container's lifetime: an attached client's input is written to it, its window size set on it.
"""
from __future__ import annotations

import array
import errno
import os
import socket
from pathlib import Path
from typing import Any

from engine.containers import paths


class ContainerIO:
    """Descriptors handed to ``runtime.create`` and the ones the shim keeps."""

    def __init__(self, cid: str, tty: bool, stdin_open: bool) -> None:
        self.cid = cid
        self.tty = tty
        self.stdin_open = stdin_open
        self.stdin_w = -1  # the stdin pipe's write end (``stdin_open``): attached input
        self.kept: list[int] = []  # held open for the container's lifetime
        self.child: list[int] = []  # the container's ends, closed once it exists
        self.readers: list[tuple[int, str]] = []
        self.console: socket.socket | None = None
        self.console_dir_fd = -1
        stdin = self._stdin(stdin_open)
        self.create_kwargs: dict[str, Any]
        if tty:
            self.create_kwargs = {"stdin": stdin, "stdout": None, "stderr": None,
                                  "console_socket": self._console_listener()}
            return
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        self.child += [out_w, err_w]
        self.readers = [(out_r, "stdout"), (err_r, "stderr")]
        self.create_kwargs = {"stdin": stdin, "stdout": out_w, "stderr": err_w,
                              "console_socket": None}

    def _stdin(self, stdin_open: bool) -> int:
        if stdin_open:
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            self.kept.append(write_end)
            self.stdin_w = write_end
        else:
            read_end = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.child.append(read_end)
        return read_end

    def _console_listener(self) -> Path:
        self.console, self.console_dir_fd, address = listen_console(self.cid, "console.sock")
        return address

    def after_create(self) -> None:
        """Close the container's ends; with a tty, collect the master from the runtime."""
        for fd in self.child:
            os.close(fd)
        self.child = []
        if self.console is None:
            return
        self.readers = [(accept_master(self.console), "stdout")]
        self._close_console()

    def _close_console(self) -> None:
        if self.console is not None:
            close_console(self.cid, "console.sock", self.console, self.console_dir_fd)
            self.console = None
            self.console_dir_fd = -1

    def close_stdin(self) -> None:
        """Close the stdin pipe's write end: the container reads EOF (``stdin_once``)."""
        if self.stdin_w in self.kept:
            self.kept.remove(self.stdin_w)
            os.close(self.stdin_w)
        self.stdin_w = -1

    def close(self) -> None:
        """Release everything still open (failed start, or the container is gone)."""
        for fd in self.child + self.kept:
            os.close(fd)
        self.child, self.kept = [], []
        self.stdin_w = -1
        self._close_console()


def listen_console(cid: str, name: str) -> tuple[socket.socket, int, Path]:
    """A console socket ``name`` in the container's directory: (listener, directory fd, the
    address for the runtime). The address goes through /proc/<shim>/fd/<dir fd>: short
    (AF_UNIX paths max 108 bytes) and valid from the runtime's processes too."""
    (paths.container_dir(cid) / name).unlink(missing_ok=True)
    dir_fd = os.open(paths.container_dir(cid), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    address = Path(f"/proc/{os.getpid()}/fd/{dir_fd}/{name}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(address))
        listener.listen(1)
    except OSError:
        listener.close()
        os.close(dir_fd)
        raise
    return listener, dir_fd, address


def accept_master(listener: socket.socket, timeout: float = 10.0) -> int:
    """The pty master the runtime sends on a console socket."""
    listener.settimeout(timeout)
    conn, _ = listener.accept()
    with conn:
        fds = array.array("i")
        _, ancdata, _, _ = conn.recvmsg(1024, socket.CMSG_SPACE(4 * fds.itemsize))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    if not fds:
        raise OSError(errno.EPROTO, "the runtime sent no terminal on the console socket")
    for extra in fds[1:]:
        os.close(extra)
    os.set_inheritable(fds[0], False)
    return fds[0]


def close_console(cid: str, name: str, listener: socket.socket, dir_fd: int) -> None:
    """Close a console listener and remove its socket file."""
    listener.close()
    (paths.container_dir(cid) / name).unlink(missing_ok=True)
    os.close(dir_fd)


def read_output(fd: int) -> bytes:
    """Read what is there; a terminal master reports EIO once every slave is closed (EOF)."""
    try:
        return os.read(fd, 65536)
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise
