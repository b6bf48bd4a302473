"""The shim's clients (containerd-shim's exec and attach): exec'd processes and attached clients.

Every connection on ``shim.sock`` opens with one JSON request, sent with ``sendmsg``:

- ``{"process": {...}, "tty": bool}`` plus three descriptors (stdin, stdout, stderr): an exec.
  The shim answers ``{"pid": N}``, later ``{"exit": N}`` (JSON lines). With ``tty`` the
  runtime allocates a pty in the container (console socket) and the master comes with the
  ``pid`` reply (SCM_RIGHTS); the client relays it and sets its window size itself.
  Meanwhile the client may send ``s`` frames (:mod:`engine.containers.frames`): the shim
  signals the process group of the exec'd process (a probe past its timeout is killed this
  way, with its children).
- ``{"attach": {"stdin": bool, "stdin_once": bool, "replay": bool}}``: the client joins the
  container's main process. The shim answers ``{"attached": true, "tty": bool}`` and then
  relays frames: output of the container (``o``/``e``) to every attached client, ``i`` to the
  container's stdin (the pty master with a tty, else the stdin pipe; only with ``stdin_open``),
  ``w`` to the pty's window size, ``s`` to init. With ``replay`` the client first gets the
  output since the start (up to :data:`HISTORY`; ``run`` attaches right after the start).

The shim is single-threaded: client sockets are non-blocking, output to a client is queued
(a client that falls :data:`MAX_BACKLOG` behind is dropped), input waits while the container's
stdin is full (the client is not read meanwhile: backpressure, nothing dropped).
"""
from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import logging
import os
import selectors
import socket
import struct
import termios
from dataclasses import dataclass, field
from typing import Any

from engine.containers import frames, procinfo, stdio
from engine.containers.runtimes import Runtime
from engine.containers.stdio import ContainerIO

log = logging.getLogger(__name__)

HISTORY = 1 << 20  # output kept for a replaying attach (bytes)
MAX_BACKLOG = 4 << 20  # output queued for one slow client before it is dropped
_STREAM_KIND = {"stdout": frames.STDOUT, "stderr": frames.STDERR}


@dataclass
class ExecJob:
    """An exec process whose client connection the session relays."""
    conn: socket.socket
    pid: int
    decoder: frames.Decoder = field(default_factory=frames.Decoder)


@dataclass
class Client:
    """An attached client of a container's session."""
    conn: socket.socket
    stdin: bool
    stdin_once: bool
    decoder: frames.Decoder = field(default_factory=frames.Decoder)
    out: bytearray = field(default_factory=bytearray)
    paused: bool = False


class Sessions:
    """Exec jobs and attached clients of one shim; the shim's loop calls :meth:`dispatch` for
    keys whose data is a tuple starting with ``"session"``."""

    def __init__(self, cid: str, runtime: Runtime, sel: selectors.BaseSelector,
                 io: ContainerIO) -> None:
        self.cid = cid
        self.runtime = runtime
        self.sel = sel
        self.io = io
        self.init_pid = 0
        self.execs: dict[int, ExecJob] = {}
        self.clients: list[Client] = []
        self.history: collections.deque[tuple[bytes, bytes]] = collections.deque()
        self.history_size = 0
        self.pending = bytearray()  # input not yet taken by the container

    # -- new connections -------------------------------------------------------------------

    def serve(self, conn: socket.socket) -> None:
        """Handle a new connection's request. Whatever goes wrong fails only that client."""
        from engine.containers import execution  # the exec request's parser

        fds: list[int] = []
        try:
            request, fds = execution.receive_request(conn)
            if "attach" in request:
                self._attach(conn, request["attach"])
                return
            if request.get("tty"):
                pid, master = self._exec_with_terminal(request["process"])
                fds.append(master)  # sent with the reply, then closed here
            else:
                pid = self.runtime.exec(self.cid, request["process"], stdin=fds[0],
                                        stdout=fds[1], stderr=fds[2])
                del fds[3:]
            send_line(conn, {"pid": pid}, fds[3:])
        except Exception as exc:  # noqa: BLE001 - any failure is this request's, not ours
            send_line(conn, {"error": exec_error(exc),
                             "exit_code": getattr(exc, "exit_code", 126)})
            conn.close()
            return
        finally:
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        job = ExecJob(conn, pid)
        self.execs[pid] = job
        conn.setblocking(False)
        self.sel.register(conn, selectors.EVENT_READ, ("session", "exec", job))

    def _exec_with_terminal(self, process: dict[str, Any]) -> tuple[int, int]:
        """Exec with a pty of the container's own devpts (docker's way: ``tty`` names it in
        the container); (pid, the master) — the master goes to the client."""
        name = f"exec-{os.urandom(6).hex()}.sock"
        listener, dir_fd, address = stdio.listen_console(self.cid, name)
        try:
            pid = self.runtime.exec(self.cid, process, stdin=None, stdout=None, stderr=None,
                                    tty=True, console_socket=address)
            try:
                return pid, stdio.accept_master(listener)
            except OSError:
                with contextlib.suppress(OSError):
                    os.kill(pid, 9)  # no terminal came: the process must not linger
                raise
        finally:
            stdio.close_console(self.cid, name, listener, dir_fd)

    def _attach(self, conn: socket.socket, options: dict[str, Any]) -> None:
        stdin = bool(options.get("stdin")) and self.input_fd() is not None
        send_line(conn, {"attached": True, "tty": self.io.tty, "stdin": stdin})
        client = Client(conn, stdin, bool(options.get("stdin_once")))
        conn.setblocking(False)
        if options.get("replay"):
            for kind, data in self.history:
                client.out += frames.encode(kind, data)
        self.clients.append(client)
        self._want_write(client)

    # -- events ----------------------------------------------------------------------------

    def dispatch(self, data: tuple[Any, ...], mask: int) -> None:
        """A registered descriptor is ready."""
        kind = data[1]
        if kind == "exec":
            self._exec_readable(data[2])
        elif kind == "input":
            self.flush_input()
        elif kind == "client":
            client: Client = data[2]
            if mask & selectors.EVENT_WRITE:
                self._send_queued(client)
            if mask & selectors.EVENT_READ and client in self.clients:
                self._client_readable(client)

    def _exec_readable(self, job: ExecJob) -> None:
        try:
            data = job.conn.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client left; like docker, the process keeps running
            self.sel.unregister(job.conn)
            return
        try:
            for kind, payload in job.decoder.feed(data):
                if kind == frames.SIGNAL and job.pid in self.execs:
                    procinfo.signal_group(job.pid, int(payload))
        except ValueError as exc:
            log.warning("exec %s: bad frame: %s", job.pid, exc)
            self.sel.unregister(job.conn)

    def _client_readable(self, client: Client) -> None:
        try:
            data = client.conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(client)
            return
        try:
            for kind, payload in client.decoder.feed(data):
                self._client_frame(client, kind, payload)
        except ValueError as exc:
            log.warning("attach: bad frame: %s", exc)
            self._drop(client)

    def _client_frame(self, client: Client, kind: bytes, payload: bytes) -> None:
        if kind == frames.STDIN and client.stdin:
            self.pending += payload
            self.flush_input()
        elif kind == frames.CLOSE and client.stdin and client.stdin_once:
            self._close_stdin()
        elif kind == frames.WINSIZE and self.io.tty:
            set_winsize(self.io.readers[0][0], *frames.parse_winsize(payload))
        elif kind == frames.SIGNAL and self.init_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, int(payload))

    # -- container input -------------------------------------------------------------------

    def input_fd(self) -> int | None:
        """Where attached input goes: the pty master, or the stdin pipe (``stdin_open``)."""
        if not self.io.stdin_open:
            return None
        if self.io.tty:
            return self.io.readers[0][0] if self.io.readers else None
        return self.io.stdin_w

    def flush_input(self) -> None:
        """Write pending input without blocking; while some is left, stop reading clients and
        wait for the container's stdin to be writable."""
        fd = self.input_fd()
        if fd is None:
            self.pending.clear()
        else:
            os.set_blocking(fd, False)
            try:
                del self.pending[:os.write(fd, self.pending)]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:  # nobody reads the container's stdin any more
                self.pending.clear()
        self._set_input_interest(fd, bool(self.pending))

    def _set_input_interest(self, fd: int | None, waiting: bool) -> None:
        for client in self.clients:
            if client.stdin and client.paused != waiting:
                client.paused = waiting
                self._want_write(client)
        if fd is None:
            return
        try:
            key = self.sel.get_key(fd)
        except KeyError:
            if waiting:
                self.sel.register(fd, selectors.EVENT_WRITE, ("session", "input"))
            return
        if key.data == ("session", "input"):
            if not waiting:
                self.sel.unregister(fd)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if waiting else 0)
        if key.events != events:  # the pty master, read by the shim for output
            self.sel.modify(fd, events, key.data)

    def _close_stdin(self) -> None:
        fd = self.io.stdin_w
        if fd < 0 or self.io.tty:
            return
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(fd)
        self.pending.clear()
        self.io.close_stdin()

    def forget_fd(self, fd: int) -> None:
        """The shim closed ``fd`` (a drained output); pending input for it is dropped."""
        if self.io.tty and self.io.readers and self.io.readers[0][0] == fd:
            self.pending.clear()
            self.io.readers = []

    # -- container output ------------------------------------------------------------------

    def output(self, stream: str, data: bytes) -> None:
        """Tee the container's output to the history and every attached client."""
        kind = _STREAM_KIND[stream]
        self.history.append((kind, data))
        self.history_size += len(data)
        while self.history_size > HISTORY:
            self.history_size -= len(self.history.popleft()[1])
        frame = frames.encode(kind, data)
        for client in list(self.clients):
            client.out += frame
            if len(client.out) > MAX_BACKLOG:
                log.warning("attach: a client fell %d bytes behind; dropped", len(client.out))
                self._drop(client)
            else:
                self._send_queued(client)

    def _send_queued(self, client: Client) -> None:
        try:
            sent = client.conn.send(client.out) if client.out else 0
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._drop(client)
            return
        del client.out[:sent]
        self._want_write(client)

    def _want_write(self, client: Client) -> None:
        """Watch the client for what it is due: input (unless paused), queued output."""
        events = (0 if client.paused else selectors.EVENT_READ) | (
            selectors.EVENT_WRITE if client.out else 0)
        try:
            key = self.sel.get_key(client.conn)
        except KeyError:
            if events:
                self.sel.register(client.conn, events, ("session", "client", client))
            return
        if not events:  # paused with nothing to send: unwatched until input drains
            self.sel.unregister(client.conn)
        elif key.events != events:
            self.sel.modify(client.conn, events, key.data)

    def _drop(self, client: Client) -> None:
        if client not in self.clients:
            return
        self.clients.remove(client)
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(client.conn)
        client.conn.close()

    # -- endings ---------------------------------------------------------------------------

    def reaped(self, pid: int, code: int) -> None:
        """An exec'd process ended: tell its client."""
        job = self.execs.pop(pid, None)
        if job is None:
            return
        self._close_exec(job, code)

    def _close_exec(self, job: ExecJob, code: int) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(job.conn)
        job.conn.setblocking(True)
        job.conn.settimeout(1.0)
        send_line(job.conn, {"exit": code})
        job.conn.close()

    def finish(self, code: int) -> None:
        """The container ended: exec clients get 137, attached clients the exit code."""
        for job in list(self.execs.values()):
            self._close_exec(job, 137)
        self.execs.clear()
        for client in list(self.clients):
            client.out += frames.encode(frames.EXIT, str(code).encode())
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(client.conn)
            client.conn.setblocking(True)
            client.conn.settimeout(2.0)
            with contextlib.suppress(OSError):
                client.conn.sendall(client.out)
            client.conn.close()
        self.clients.clear()


def set_winsize(fd: int, rows: int, cols: int) -> None:
    """Resize a pty (the kernel sends SIGWINCH to its foreground process group)."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def send_line(conn: socket.socket, message: dict[str, Any], fds: list[int] | None = None
              ) -> None:
    """One JSON line (with ``fds`` attached); a client that went away is nobody's problem."""
    data = json.dumps(message).encode() + b"\n"
    try:
        if fds:
            sent = socket.send_fds(conn, [data], fds)
            conn.sendall(data[sent:])
        else:
            conn.sendall(data)
    except OSError:
        pass


def exec_error(exc: Exception) -> str:
    """The message an exec client gets for a request that failed."""
    from engine.errors import EngineError

    if isinstance(exc, EngineError):
        return exc.message
    if isinstance(exc, ValueError):
        return f"bad request: {exc}"
    if isinstance(exc, OSError):
        return f"exec: {exc}"
    log.error("exec request failed", exc_info=exc)  # a bug: keep the traceback in shim.log
    return f"exec failed: {type(exc).__name__}: {exc}"

