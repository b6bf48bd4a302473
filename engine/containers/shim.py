"""The per-container shim (containerd-shim's role): one small detached process per container run.

It is a child subreaper, creates and starts the container through the runtime (so init and every
exec'd process become its children), turns the container's stdout/stderr into timestamped log
lines, serves exec and attach clients on ``shim.sock`` (:mod:`engine.containers.sessions`:
the container's stdin and pty master stay here for them), and when init exits records exit
code, OOMKilled and finished_at, tears down (runtime delete, rootfs unmount) and exits. Waiting
for a container from any process is waiting for its shim to exit (pidfd), then reading the row.

How it is started: :func:`spawn` asks the fork server (:mod:`engine.containers.shimd`, a
single-threaded interpreter that never opened the store) to fork it: a few ms, and the shim may
use the store. When no server can be reached, :func:`spawn` double-forks the current process
(setsid in between), so the shim is nobody's child the CLI must wait for and survives SIGKILL of
the CLI; a multi-threaded caller's child must exec a fresh interpreter at once (another thread
could hold an allocator or import lock forever in the child:
``python -m engine.containers.shim``). In a forked child every inherited descriptor except the
report socket is replaced by /dev/null (not closed, so a stale Python object can never close a
reused descriptor number) and the garbage collector is frozen (it would finalize inherited
objects).

A shim forked from the caller never touches the state store: SQLite's process-wide state
(locks, descriptors parked for reuse) does not survive fork, and a connection opened in the
child can read /dev/null as the database and checkpoint and delete the WAL. The caller
(:func:`spawn`) records the running container from the shim's report, and such a shim records
the exit by exec'ing a fresh interpreter at its very end (``--record-exit``; same pid, so
waiters on the shim's pidfd still see the row written before the shim is gone).

Start protocol (a socketpair): the shim sends one JSON object and shuts its sending side:
``{"ok": true, "pid": N, ...}`` or ``{"ok": false, "error": "...", "exit_code": 127}``. On
success the caller records the row, then closes its end; the shim waits for that before it
records an exit, so a container that exits at once can never be overwritten as running.
"""
from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import select
import selectors
import signal
import socket
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import store
from engine.containers import paths, procinfo, record, rootfs, shimd
from engine.containers.logfile import LineWriter
from engine.containers.runtimes import Runtime, get_runtime
from engine.containers.sessions import Sessions
from engine.containers.spec import State
from engine.containers.stdio import ContainerIO, read_output
from engine.errors import EngineError, NotFound

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
_DRAIN_AFTER_EXIT = 2.0  # seconds to wait for output pipes after init died
_REQUEST_TIMEOUT = 5.0
_REPORT_TIMEOUT = 120.0


def spawn(cid: str, runtime_name: str) -> dict[str, Any]:
    """Start the shim for ``cid`` detached, record it running, and return its start report."""
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    if not shimd.request_shim(cid, runtime_name, child_sock.fileno()):  # the fork server
        single = threading.active_count() == 1  # else the child exec's a fresh shim at once
        _fork_shim(cid, runtime_name, child_sock, record.get(cid).spec if single else None)
    child_sock.close()
    with parent_sock:
        report = _read_report(parent_sock)
        if report.get("ok"):
            record.update(cid, state=State.RUNNING, pid=report["pid"],
                          pid_start=report["pid_start"], shim_pid=report["shim_pid"],
                          shim_start=report["shim_start"], started_at=report["started_at"],
                          finished_at="", exit_code=None, oom_killed=0, error="")
    return report  # closing the socket above lets the shim record an exit


def _fork_shim(cid: str, runtime_name: str, child_sock: socket.socket,
               spec: dict[str, Any] | None) -> None:
    """Double-fork the shim from this process (``spec`` None: the child exec's a fresh
    interpreter at once, the only safe thing for a multi-threaded caller's child)."""
    pid = os.fork()
    if pid == 0:  # intermediate: new session, fork again, vanish
        try:
            gc.freeze()  # never finalize what was inherited (SQLite connections among it)
            os.setsid()
            if os.fork() == 0:
                _become_shim(cid, runtime_name, child_sock.detach(), spec)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _read_report(sock: socket.socket) -> dict[str, Any]:
    ready, _, _ = select.select([sock], [], [], _REPORT_TIMEOUT)
    if not ready:  # the runtime hangs; the shim records the outcome if it ever finishes
        return {"ok": False, "exit_code": 128,
                "error": f"the runtime did not start the container in {_REPORT_TIMEOUT}s"}
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    try:
        report: dict[str, Any] = json.loads(b"".join(chunks))
    except ValueError:
        report = {"ok": False, "error": "the shim died before reporting", "exit_code": 255}
    return report


def _become_shim(cid: str, runtime_name: str, report_fd: int,
                 spec: dict[str, Any] | None, *, fresh: bool = False) -> None:
    """Run the shim in this forked process: with ``spec`` (a forked caller's copy of the row,
    the store off limits), with ``fresh`` (forked by the fork server, which never used the
    store), or else by exec'ing a fresh interpreter."""
    _scrub_fds(keep={report_fd})
    # The shim's own complaints (tracebacks, warnings) go to shim.log in the container dir.
    err = os.open(paths.container_dir(cid) / "shim.log",
                  os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    os.dup2(err, 2)
    os.close(err)
    if spec is None and not fresh:
        os.set_inheritable(report_fd, True)
        os.execve(sys.executable, _shim_argv(cid, runtime_name, str(report_fd)), _shim_env())
    store.forget_connections()
    code = 0
    try:
        Shim(cid, runtime_name, report_fd, spec).run()
    except BaseException:  # noqa: B036 - the shim must never unwind into the caller's stack
        os.write(2, traceback.format_exc().encode())
        code = 1
    os._exit(code)


def _shim_argv(*args: str) -> list[str]:
    # -S skips site (and the editable-install finder, ~30 ms); _shim_env's PYTHONPATH, with
    # the source tree first, finds everything the shim imports.
    return [sys.executable, "-S", "-m", "engine.containers.shim", *args]


def _shim_env() -> dict[str, str]:
    tree = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([tree, *filter(None, sys.path)])}


def _scrub_fds(keep: set[int]) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd != null and fd not in keep:
            try:
                os.dup2(null, fd, inheritable=fd <= 2)
            except OSError:
                pass  # the listing's own descriptor, already closed
    os.close(null)


@dataclass
class _Status:
    init_pid: int = 0
    init_status: int | None = None


class Shim:
    """One container run: create → start → pump output, serve exec, reap → record → exit."""

    def __init__(self, cid: str, runtime_name: str, report_fd: int,
                 spec: dict[str, Any] | None = None) -> None:
        self.cid = cid
        self.spec = spec
        self.forked = spec is not None  # then the store is off limits (see above)
        self.dir = paths.container_dir(cid)
        self.runtime: Runtime = get_runtime(runtime_name)
        self.report_fd = report_fd
        self.sel = selectors.DefaultSelector()
        self.status = _Status()
        self.writers: dict[int, LineWriter] = {}

    def run(self) -> None:
        """The whole life of the shim."""
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # runtimes' children get it back
        for sig in (signal.SIGHUP, signal.SIGINT):  # not SIG_IGN: that would be inherited
            signal.signal(sig, lambda *_: None)  # by the container's processes
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(wake_w)
        os.chdir("/")
        try:
            started = self._create_and_start()
        except Exception as exc:
            if self.report_fd >= 0:
                self._report({"ok": False, "error": f"shim: {exc}", "exit_code": 128})
                self._teardown()
            raise
        if not started:
            return
        self.sel.register(wake_r, selectors.EVENT_READ, "sigchld")
        self._loop()
        self._finish()

    def _create_and_start(self) -> bool:
        spec = record.spec_from_json(self.spec or record.get(self.cid).spec)
        # log driver "none": the output is still drained (a full pipe would block the
        # container) but goes nowhere
        target = os.devnull if spec.log_driver == "none" else paths.log_file(self.cid)
        log_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.io = ContainerIO(self.cid, spec.tty, spec.stdin_open)
        try:
            pid = self.runtime.create(self.cid, paths.bundle_dir(self.cid),
                                      pid_file=self.dir / "init.pid", **self.io.create_kwargs)
            self.status.init_pid = pid
            self.io.after_create()
            self.sessions = Sessions(self.cid, self.runtime, self.sel, self.io)
            self.sessions.init_pid = pid
            self.runtime.start(self.cid)
        except (EngineError, OSError) as exc:
            self.io.close()
            message = exc.message if isinstance(exc, EngineError) else f"terminal: {exc}"
            self._report({"ok": False, "error": message,
                          "exit_code": getattr(exc, "exit_code", 128)})
            self._teardown()
            return False
        for fd, stream in self.io.readers:
            self.writers[fd] = LineWriter(log_fd, stream)
            self.sel.register(fd, selectors.EVENT_READ, "output")
        self._listen()
        self._report({"ok": True, "pid": pid, "pid_start": procinfo.start_time(pid),
                      "shim_pid": os.getpid(), "shim_start": procinfo.start_time(os.getpid()),
                      "started_at": record.now()}, keep=True)
        return True

    def _report(self, report: dict[str, Any], keep: bool = False) -> None:
        """Send the start report; with ``keep``, hold the socket to learn (EOF) when the
        caller has recorded the start."""
        sock = socket.socket(fileno=self.report_fd)
        self.report_fd = -1
        try:
            sock.sendall(json.dumps(report).encode())
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the caller is gone; the row says what it last knew
        if keep:
            self.ack = sock
        else:
            sock.close()

    def _await_recorded_start(self) -> None:
        ack = getattr(self, "ack", None)
        if ack is None:
            return
        ack.settimeout(_REPORT_TIMEOUT)
        with ack:
            try:
                ack.recv(1)  # EOF once the caller recorded the start (or died)
            except OSError:
                pass

    def _listen(self) -> None:
        paths.shim_socket(self.cid).unlink(missing_ok=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with paths.short_socket_path(self.cid) as address:
            self.server.bind(address)
        self.server.listen(16)
        self.sel.register(self.server, selectors.EVENT_READ, "accept")

    def _loop(self) -> None:
        while self.status.init_status is None or self.writers:
            timeout = _DRAIN_AFTER_EXIT if self.status.init_status is not None else None
            events = self.sel.select(timeout)
            if not events:  # init gone and output pipes still held open: stop draining
                break
            for key, mask in events:
                self._dispatch(key, mask)

    def _dispatch(self, key: selectors.SelectorKey, mask: int) -> None:
        kind = key.data
        if isinstance(kind, tuple):  # an exec or attach client (engine.containers.sessions)
            self.sessions.dispatch(kind, mask)
        elif kind == "output" and mask & selectors.EVENT_WRITE:  # the pty master takes input
            self.sessions.flush_input()
            if mask & selectors.EVENT_READ:
                self._pump(key.fd)
        elif kind == "sigchld":
            while True:
                try:
                    if not os.read(key.fd, 512):
                        break
                except BlockingIOError:
                    break
            self._reap()
        elif kind == "output":
            self._pump(key.fd)
        elif kind == "accept":
            try:
                conn, _ = self.server.accept()
            except OSError as exc:  # ECONNABORTED, EMFILE: that client's loss only
                log.warning("accept on shim.sock: %s", exc)
                return
            conn.settimeout(_REQUEST_TIMEOUT)  # a silent client must not stall the shim
            self.sessions.serve(conn)
            self._reap()  # an exec'd process may have ended already

    def _pump(self, fd: int) -> None:
        try:
            data = read_output(fd)
        except BlockingIOError:  # the pty master is non-blocking once input was written
            return
        if data:
            self.writers[fd].feed(data)
            self.sessions.output(self.writers[fd].stream, data)
            return
        self.writers.pop(fd).flush()
        self.sel.unregister(fd)
        self.sessions.forget_fd(fd)
        os.close(fd)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.status.init_pid:
                self.status.init_status = status
            else:
                self.sessions.reaped(pid, exit_code(status))

    def _finish(self) -> None:
        status = self.status.init_status
        oom = procinfo.oom_killed(self.cid)
        code = exit_code(status) if status is not None else 255
        if oom and code == 128 + signal.SIGKILL:
            code = 137
        self.sessions.finish(code)
        self.io.close()
        self._teardown()
        fields: dict[str, Any] = {"state": State.EXITED.value, "exit_code": code,
                                  "oom_killed": int(oom), "finished_at": record.now(), "pid": 0}
        if self.writers:
            fields["error"] = "the container's output was held open after init exited"
        self._await_recorded_start()
        log.debug("container %s exited %s", self.cid[:12], code)
        if self.forked:  # a fresh interpreter writes the row (this process must not)
            os.execve(sys.executable, _shim_argv("--record-exit", self.cid, json.dumps(fields)),
                      _shim_env())
        record_exit(self.cid, fields)

    def _teardown(self) -> None:
        try:
            self.runtime.delete(self.cid, force=True)
        except EngineError as exc:
            log.warning("runtime delete %s: %s", self.cid[:12], exc)
        paths.shim_socket(self.cid).unlink(missing_ok=True)
        rootfs.unmount(paths.rootfs_dir(self.cid))


def exit_code(status: int) -> int:
    """docker's exit code for a wait status: the code, or 128+N for signal N."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def record_exit(cid: str, fields: dict[str, Any]) -> None:
    """Write a finished run's exit fields to the container's row, unless the row belongs to
    another run by now (another shim recorded; this run's start was never recorded)."""
    with store.transaction():
        try:
            owner = record.raw(cid)["shim_pid"]
        except NotFound:
            return  # removed meanwhile
        if owner != os.getpid():
            log.warning("container %s: the row names shim %s, not this one; exit %s not "
                        "recorded", cid[:12], owner, fields.get("exit_code"))
            return
        record.update(cid, **{**fields, "state": State(fields["state"])})


def main(argv: list[str]) -> None:
    """Entry point for the exec'd shim: ``python -m engine.containers.shim CID RUNTIME FD``,
    or ``--record-exit CID FIELDS`` for the end of a forked shim."""
    if argv[1] == "--record-exit":
        try:
            record_exit(argv[2], json.loads(argv[3]))
        except BaseException:  # noqa: B036
            log.exception("shim %s: recording the exit failed", argv[2][:12])
            os._exit(1)
        os._exit(0)
    cid, runtime_name, fd = argv[1], argv[2], int(argv[3])
    os.set_inheritable(fd, False)
    try:
        Shim(cid, runtime_name, fd).run()
    except BaseException:  # noqa: B036
        log.exception("shim %s failed", cid[:12])
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
