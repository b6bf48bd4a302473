"""The supervisor process: pid file, unix socket server, re-adoption at start.

Run as ``python -m compose.orchestrator.daemon <project> [<ready fd>]`` (the CLI does this
detached, see :mod:`compose.orchestrator.client`). Files under ``<state root>/run/``:
``<project>.sock`` (JSON lines, protocol in :mod:`compose.orchestrator.supervisor`),
``<project>.pid`` (flock-held while alive, so a second supervisor refuses to start) and
``<project>.log``.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import selectors
import socket
import socketserver
import sys
import threading
import time
from typing import IO, Any

from compose.orchestrator.runpaths import log_path, pid_path, run_dir, socket_path
from compose.orchestrator.supervisor import ContainerOps, EventHub, Supervisor
from engine.paths import ensure_dir
from engine.unixaddr import unix_address

log = logging.getLogger(__name__)


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.conns.add(self.connection)

    def finish(self) -> None:
        with self.server.lock:
            self.server.conns.discard(self.connection)
        super().finish()

    def handle(self) -> None:
        for raw in self.rfile:
            try:
                req = json.loads(raw)
            except ValueError:
                self._reply({"ok": False, "error": "bad json"})
                continue
            if not self._dispatch(req):
                return

    def _reply(self, obj: dict[str, Any]) -> None:
        self.wfile.write((json.dumps(obj) + "\n").encode())
        self.wfile.flush()

    def _dispatch(self, req: dict[str, Any]) -> bool:
        op = req.get("op")
        sup = self.server.supervisor
        if op == "ping":
            self._reply({"ok": True, "pid": os.getpid(), "project": sup.project})
        elif op == "watch":
            sup.watch(str(req["container"]))
            self._reply({"ok": True})
        elif op == "publish":  # a lifecycle step the CLI performed itself (create, start...)
            event = req.get("event")
            if isinstance(event, dict) and event.get("event"):
                self.server.hub.publish(event)
                self._reply({"ok": True})
            else:
                self._reply({"ok": False, "error": "publish needs an event object"})
        elif op == "subscribe":  # (the reply goes with the subscription: see EventHub.add)
            since, until = (float(v) if isinstance(v, (int, float)) else None
                            for v in (req.get("since"), req.get("until")))
            if not self.server.hub.add(self.connection, since, until,
                                       greeting=(json.dumps({"ok": True}) + "\n").encode()):
                with contextlib.suppress(OSError):  # (closed if the subscriber went away)
                    self.connection.shutdown(socket.SHUT_WR)  # the replay was all: the end
                return False
            self.server.keep.append(self.connection)
            self.rfile.read()  # park until the subscriber goes away
            return False
        elif op == "shutdown":
            self._reply({"ok": True})
            self.server.request_shutdown()
            return False
        else:
            self._reply({"ok": False, "error": f"unknown op {op!r}"})
        return True


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """Serves until :meth:`request_shutdown`, which wakes it at once (a pipe in its select):
    ``down`` waits for this process to exit, so no poll interval may delay that."""

    daemon_threads = True

    def __init__(self, path: str, supervisor: Supervisor, hub: EventHub) -> None:
        self.supervisor = supervisor
        self.hub = hub
        self.keep: list[socket.socket] = []
        self.conns: set[socket.socket] = set()  # open client connections (kept ones too)
        self.lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        super().__init__(path, _Handler)

    def serve_until_shutdown(self) -> None:
        """Accept and hand off connections until :meth:`request_shutdown` (blocking)."""
        with selectors.DefaultSelector() as sel:
            sel.register(self.socket, selectors.EVENT_READ, "accept")
            sel.register(self._wake_r, selectors.EVENT_READ, "stop")
            while True:
                kinds = {key.data for key, _ in sel.select()}
                if "stop" in kinds:
                    return
                self.handle_request()  # ready: accepts without blocking

    def request_shutdown(self) -> None:
        """Make :meth:`serve_until_shutdown` return now (from any thread)."""
        try:
            os.write(self._wake_w, b"x")
        except OSError:  # already requested (pipe full), or already closed
            pass

    def server_close(self) -> None:
        super().server_close()
        with self.lock:  # clients' kept connections end with this server, in-process too
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)


def serve(project: str, ops: ContainerOps, ready_fd: int | None = None) -> None:
    """Run the supervisor of ``project`` until a ``shutdown`` request (blocking)."""
    ensure_dir(run_dir(), 0o700)
    lock = _lock_pid_file(project)
    if lock is None:
        log.info("a supervisor for %s is already running", project)
        _signal_ready(ready_fd)
        return
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    sock = socket_path(project)
    sock.unlink(missing_ok=True)  # stale socket of a killed supervisor (we hold the lock)
    hub = EventHub()
    sup = Supervisor(project, ops, hub.publish)
    with unix_address(sock) as address:
        server = _Server(address, sup, hub)
    _signal_ready(ready_fd)
    threading.Thread(target=_prepare, args=(ops,), name="prepare", daemon=True).start()
    try:
        sup.adopt_all()
    except Exception:  # keep serving: the CLI can still watch containers one by one
        log.exception("re-adopting the containers of %s failed", project)
    log.info("supervisor for %s ready (pid %d)", project, os.getpid())
    try:
        server.serve_until_shutdown()
    finally:
        sup.unwatch_all()
        server.server_close()
        sock.unlink(missing_ok=True)
        pid_path(project).unlink(missing_ok=True)
        lock.close()


def _prepare(ops: ContainerOps) -> None:
    """Load the engine calls beside the serving (the ``up`` that started this supervisor
    pings it, then hands it its first container once that started)."""
    try:
        ops.prepare()
    except Exception:  # the first request imports what it needs instead
        log.exception("preparing the engine calls failed")


def _lock_pid_file(project: str, patience: float = 10.0) -> IO[str] | None:
    """Open and flock the pid file (held for the process lifetime); None when a live
    supervisor holds it. One that holds it without answering is exiting (``down`` just asked
    it to): wait for it, up to ``patience`` seconds. The locked file must still be the one at
    the path: ``down`` removes a SIGKILLed supervisor's file under the lock, and a file opened
    before that would be an invisible lock."""
    from compose.orchestrator.client import is_running

    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        lock = open(pid_path(project), "a+")  # noqa: SIM115 - the caller keeps it open
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            if is_running(project):
                return None
            time.sleep(0.05)
            continue
        try:
            if os.stat(pid_path(project)).st_ino == os.fstat(lock.fileno()).st_ino:
                return lock
        except FileNotFoundError:
            pass
        lock.close()
    log.warning("the pid file of %s stayed locked by a supervisor that does not answer "
                "(%.0f s)", project, patience)
    return None


def _signal_ready(fd: int | None) -> None:
    if fd is None:
        return
    try:
        os.write(fd, b"1")
        os.close(fd)
    except OSError:
        pass


def main(argv: list[str]) -> None:
    """Entry point of the detached supervisor process."""
    project = argv[0]
    ready_fd = int(argv[1]) if len(argv) > 1 else None
    ensure_dir(run_dir(), 0o700)
    logging.basicConfig(filename=str(log_path(project)), level=logging.INFO,
                        format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    from compose.orchestrator.engine_ops import EngineContainerOps

    serve(project, EngineContainerOps(), ready_fd)


if __name__ == "__main__":
    main(sys.argv[1:])
