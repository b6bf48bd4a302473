"""The per-container shim (containerd-shim's role): one small detached process per container run.

It is a child subreaper, creates and starts the container through the runtime (so init and every
exec'd process become its children), records the run in the container's row, turns the
container's stdout/stderr into timestamped log lines, serves exec and attach clients on
``shim.sock`` (:mod:`engine.containers.sessions`: the container's stdin and pty master stay here
for them), and when init exits tears down (runtime delete, rootfs unmount), records exit code,
OOMKilled and finished_at, and exits. Waiting for a container from any process is waiting for
its shim to exit (pidfd), then reading the row.

How it is started (:func:`spawn`): the fork server (:mod:`engine.containers.shimd`, a
single-threaded interpreter that never opened the store) forks it in a few ms; when no server
can be reached, the caller double-forks and the grandchild exec's a fresh interpreter at once
(``python -m engine.containers.shim``; a forked copy of a multi-threaded caller could wait
forever on a lock another thread held). Either way the shim is a fresh process that may use the
store, nobody's child the CLI must wait for, and it survives SIGKILL of the caller. Both ways
end in :func:`become_shim`.

The container lock travels with the request: the caller holds ``locked(cid)`` (an flock) and
hands its descriptor to the shim, which keeps it until it has recorded the outcome of the start
(the row says ``running`` with its pid and the shim's, or the start's error). A killed caller
therefore never leaves a container that runs while its row says ``created``: ``stop``/``delete``
take the lock and see the start finished.

Start report (a socketpair): the shim sends one JSON object and closes its end:
``{"ok": true, "pid": N, ...}`` or ``{"ok": false, "error": "...", "exit_code": 127,
"recorded": true}``.
"""
from __future__ import annotations

import ctypes
import json
import logging
import os
import selectors
import signal
import socket
import sys
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
from engine.fdwait import readable

log = logging.getLogger(__name__)

PR_SET_CHILD_SUBREAPER = 36
_DRAIN_AFTER_EXIT = 2.0  # seconds to wait for output pipes after init died
_REQUEST_TIMEOUT = 5.0
_REPORT_TIMEOUT = 120.0


def spawn(cid: str, runtime_name: str, lock_fd: int) -> dict[str, Any]:
    """Start the shim for ``cid`` detached and return its start report. ``lock_fd`` is the
    caller's container lock: the shim holds it too until the start is recorded."""
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with parent_sock:
        try:
            fds = (child_sock.fileno(), lock_fd)
            if not shimd.request_shim(cid, runtime_name, fds):  # the fallback
                _exec_shim(cid, runtime_name, fds)
        finally:
            child_sock.close()
        return _read_report(parent_sock)


def _exec_shim(cid: str, runtime_name: str, fds: tuple[int, int]) -> None:
    """Double-fork; the grandchild (new session, stdio on /dev/null and shim.log) exec's a
    fresh interpreter at once: only system calls between fork and exec."""
    argv = shim_argv(cid, runtime_name, *map(str, fds))
    env = _shim_env()
    log_path = paths.container_dir(cid) / "shim.log"
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                _redirect_stdio(log_path)
                for fd in fds:
                    os.set_inheritable(fd, True)
                os.execve(sys.executable, argv, env)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _read_report(sock: socket.socket) -> dict[str, Any]:
    ready = readable([sock], _REPORT_TIMEOUT)
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


def become_shim(cid: str, runtime_name: str, report_fd: int, lock_fd: int) -> None:
    """Run the shim in this fresh process (forked by the fork server, or exec'd) and exit."""
    _scrub_fds(keep={report_fd, lock_fd})
    _redirect_stdio(paths.container_dir(cid) / "shim.log")
    code = 0
    try:
        Shim(cid, runtime_name, report_fd, lock_fd).run()
    except BaseException:  # noqa: B036 - the shim must never unwind into a caller's stack
        os.write(2, traceback.format_exc().encode())
        code = 1
    os._exit(code)


def _redirect_stdio(log_path: Path) -> None:
    """stdin/stdout on /dev/null (never a caller's terminal or pipe), stderr (tracebacks,
    warnings) appended to the container's shim.log."""
    null = os.open(os.devnull, os.O_RDWR)
    err = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    for target, fd in ((0, null), (1, null), (2, err)):
        os.dup2(fd, target)
    os.close(null)
    os.close(err)


def shim_argv(*args: str) -> list[str]:
    # -S skips site (and the editable-install finder, ~30 ms); _shim_env's PYTHONPATH, with
    # the source tree first, finds everything the shim imports.
    return [sys.executable, "-S", "-m", "engine.containers.shim", *args]


def _shim_env() -> dict[str, str]:
    tree = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([tree, *filter(None, sys.path)])}


def _scrub_fds(keep: set[int]) -> None:
    """Point every inherited descriptor but ``keep`` at /dev/null (not closed, so a stale
    Python object can never close a reused descriptor number)."""
    null = os.open(os.devnull, os.O_RDWR)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd != null and fd not in keep:
            try:
                os.dup2(null, fd, inheritable=fd <= 2)
            except OSError:
                pass  # the listing's own descriptor, already closed
    os.close(null)
    for fd in keep:
        os.set_inheritable(fd, False)  # never into the container or a runtime subprocess


@dataclass
class _Status:
    """The container init's pid and, once it exited, its wait status."""
    init_pid: int = 0
    init_status: int | None = None


class Shim:
    """One container run: create → start → pump output, serve exec, reap → record → exit."""

    def __init__(self, cid: str, runtime_name: str, report_fd: int, lock_fd: int) -> None:
        self.cid = cid
        self.dir = paths.container_dir(cid)
        self.runtime: Runtime = get_runtime(runtime_name)
        self.report_fd = report_fd
        self.lock_fd = lock_fd  # the caller's container lock, held until the start is recorded
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
            report = self._start()
        except Exception as exc:  # a bug: the traceback goes to shim.log
            log.exception("container %s: start failed", self.cid[:12])
            report = self._start_failed(f"shim: {exc}", 128)
        self._release_lock()
        self._report(report)
        if not report["ok"]:
            return
        self.sel.register(wake_r, selectors.EVENT_READ, "sigchld")
        self._loop()
        self._finish()

    def _start(self) -> dict[str, Any]:
        """Create and start the container, record it running; the start report."""
        spec = record.spec_from_json(record.get(self.cid).spec)
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
            return self._start_failed(message, getattr(exc, "exit_code", 128))
        for fd, stream in self.io.readers:
            self.writers[fd] = LineWriter(log_fd, stream)
            self.sel.register(fd, selectors.EVENT_READ, "output")
        self._listen()
        fields = {"pid": pid, "pid_start": procinfo.start_time(pid), "shim_pid": os.getpid(),
                  "shim_start": procinfo.start_time(os.getpid()), "started_at": record.now(),
                  "finished_at": "", "exit_code": None, "oom_killed": 0, "error": ""}
        try:
            record.transition(self.cid, State.RUNNING, **fields)
        except EngineError as exc:  # the table refuses: no run may start from this state
            self.io.close()
            return self._start_failed(str(exc), 128)
        return {"ok": True, **fields}

    def _start_failed(self, message: str, code: int) -> dict[str, Any]:
        """Undo a failed start and record its error (the state stays what it was)."""
        self._teardown()
        try:
            record.update(self.cid, exit_code=code, error=message, finished_at=record.now())
        except Exception as exc:  # noqa: BLE001 - the report still tells the caller
            log.error("container %s: recording the failed start: %s", self.cid[:12], exc)
            return {"ok": False, "error": message, "exit_code": code}
        return {"ok": False, "error": message, "exit_code": code, "recorded": True}

    def _release_lock(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1

    def _report(self, report: dict[str, Any]) -> None:
        """Send the start report and close the socket."""
        sock = socket.socket(fileno=self.report_fd)
        self.report_fd = -1
        with sock:
            try:
                sock.sendall(json.dumps(report).encode())
            except OSError:
                pass  # the caller is gone; the row says what happened

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
        fields: dict[str, Any] = {"exit_code": code, "oom_killed": int(oom),
                                  "finished_at": record.now(), "pid": 0}
        if self.writers:
            fields["error"] = "the container's output was held open after init exited"
        log.debug("container %s exited %s", self.cid[:12], code)
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
        record.transition(cid, State.EXITED, **fields)


def main(argv: list[str]) -> None:
    """Entry point of the exec'd shim (the fallback of :func:`spawn`):
    ``python -m engine.containers.shim CID RUNTIME REPORT_FD LOCK_FD``."""
    become_shim(argv[1], argv[2], int(argv[3]), int(argv[4]))


if __name__ == "__main__":
    main(sys.argv)
