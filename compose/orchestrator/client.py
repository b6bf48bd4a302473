"""The CLI's side of the supervisor: start it detached if needed, send requests, subscribe.

Starting is event-driven: the supervisor writes one byte on an inherited pipe once its socket
listens, so the CLI never sleeps-and-retries.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from compose.errors import ComposeError
from compose.orchestrator.runpaths import log_path, pid_path, run_dir, socket_path
from engine.fdwait import readable
from engine.paths import ensure_dir
from engine.unixaddr import unix_address


class SupervisorError(ComposeError):
    """The project supervisor could not be started or reached."""


_REQUEST_TIMEOUT = 30.0  # a live supervisor answers in milliseconds; never hang the CLI


def _connect(project: str, timeout: float | None = _REQUEST_TIMEOUT) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        with unix_address(socket_path(project)) as address:
            sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def request(project: str, op: str, **fields: Any) -> dict[str, Any]:
    """Send one request and return the reply (raises OSError when no supervisor listens)."""
    with _connect(project) as sock:
        sock.sendall((json.dumps({"op": op, **fields}) + "\n").encode())
        reply = sock.makefile("rb").readline()
    if not reply:
        raise OSError("supervisor closed the connection")
    return dict(json.loads(reply))


# Each thread's open connection per project, for the requests every container start makes
# (watch, publish): a connection per request cost the supervisor a handler thread each.
_kept = threading.local()


def _forget_kept() -> None:  # a forked child must not talk on its parent's connections
    for sock, replies in getattr(_kept, "conns", {}).values():
        replies.close()
        sock.close()
    _kept.__dict__.clear()


os.register_at_fork(after_in_child=_forget_kept)


def _kept_request(project: str, timeout: float, message: dict[str, Any]) -> dict[str, Any]:
    """Send one request on this thread's kept connection to the project's supervisor and
    return the reply. A connection found closed (the supervisor was restarted) is replaced
    once: nothing on it reached a live supervisor. Raises OSError when none answers."""
    conns: dict[str, tuple[socket.socket, Any]] = _kept.__dict__.setdefault("conns", {})
    key = str(socket_path(project))  # (tests change the state root between supervisors)
    payload = (json.dumps(message) + "\n").encode()
    for attempt in (0, 1):
        entry = conns.get(key)
        if entry is None:
            _drop_closed(conns)
            sock = _connect(project, timeout)
            entry = conns[key] = (sock, sock.makefile("rb"))
        sock, replies = entry
        reply = b""
        try:
            sock.settimeout(timeout)
            sock.sendall(payload)
            reply = replies.readline()
        except TimeoutError:  # it may have the request: never sent twice
            _drop_kept(conns, key)
            raise
        except OSError:
            if attempt:
                _drop_kept(conns, key)
                raise
        if reply:
            return dict(json.loads(reply))
        _drop_kept(conns, key)
    raise OSError("supervisor closed the connection")


def _drop_closed(conns: dict[str, tuple[socket.socket, Any]]) -> None:
    """Close the kept connections whose supervisor has gone (``down`` stopped it): between
    requests nothing arrives on one but its end. A long-lived process (the Python API, a test
    session) otherwise kept one per project it ever used."""
    for key in [key for key, (sock, _) in conns.items() if readable([sock], 0)]:
        _drop_kept(conns, key)


def _drop_kept(conns: dict[str, tuple[socket.socket, Any]], key: str) -> None:
    sock, replies = conns.pop(key)
    replies.close()
    sock.close()


def is_running(project: str) -> bool:
    """True when a supervisor answers on the project's socket."""
    try:
        return bool(request(project, "ping").get("ok"))
    except OSError:
        return False


_starting = threading.Lock()  # one start at a time from this process's threads


def ensure_supervisor(project: str) -> None:
    """Start the project's supervisor unless one answers (double fork + setsid, detached)."""
    if is_running(project):
        return
    with _starting:
        if not is_running(project):
            _start_supervisor(project)


def _start_supervisor(project: str) -> None:
    ensure_dir(run_dir(), 0o700)
    read_fd, write_fd = os.pipe()
    # its standard error goes to its log: a failure before its logging is set up is kept too
    log_fd = os.open(log_path(project), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                     0o600)
    try:
        if not _spawn_warm(project, write_fd, log_fd):
            pid = os.fork()
            if pid == 0:  # first child: new session, fork again: the supervisor is no leader
                try:
                    os.close(read_fd)
                    os.setsid()
                    if os.fork() != 0:
                        os._exit(0)
                    _exec_supervisor(project, write_fd, log_fd)
                except BaseException as exc:  # (nothing else would ever say why)
                    with contextlib.suppress(OSError):
                        os.write(log_fd, f"starting the supervisor failed: {exc!r}\n".encode())
                finally:
                    os._exit(127)
            os.waitpid(pid, 0)
    finally:
        os.close(write_fd)
        os.close(log_fd)
    with os.fdopen(read_fd, "rb") as ready:
        ok = ready.read(1)
    if ok != b"1":
        _failed_to_start(project, "it ended before it was ready")
    if not _answers_soon(project):
        _failed_to_start(project, "it did not answer within 5 s")


def _failed_to_start(project: str, why: str) -> NoReturn:
    """Raise the error for a supervisor that did not start, with the end of its log (the
    reason is there; a test's state root may be gone before anyone reads the file)."""
    path = log_path(project)
    try:
        with open(path, "rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 2000))
            tail = log.read().decode(errors="replace").splitlines()[-8:]
    except OSError:
        tail = []
    last = "".join(f"\n  | {line}" for line in tail)
    raise SupervisorError(f"could not start the supervisor of project {project!r}: {why} "
                          f"(log: {path}){last}")


def _answers_soon(project: str, within: float = 5.0) -> bool:
    """True once a supervisor answers. Ours answers at once; when another command started one
    at the same moment, ours found it holding the pid file and gave way, and that one may
    still be binding its socket (a rare race: a short poll is enough)."""
    deadline = time.monotonic() + within
    while not is_running(project):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _spawn_warm(project: str, ready_fd: int, log_fd: int) -> bool:
    """Have the warm engine fork the supervisor (no interpreter start-up); False when this
    command neither runs in one nor has just started one."""
    from engine import warm

    if warm.server_address is None:
        return False
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    try:
        return warm.spawn_python(["-m", "compose.orchestrator.daemon", project, str(ready_fd)],
                                 dict(os.environ), (devnull, devnull, log_fd), (ready_fd,))
    finally:
        os.close(devnull)


def _exec_supervisor(project: str, ready_fd: int, log_fd: int) -> None:
    os.set_inheritable(ready_fd, True)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.dup2(log_fd, 2)
    os.chdir("/")
    os.execv(sys.executable, [sys.executable, "-m", "compose.orchestrator.daemon", project,
                              str(ready_fd)])


_PUBLISH_TIMEOUT = 2.0  # an event is not worth stalling a lifecycle command for


def publish(project: str, event: dict[str, Any]) -> None:
    """Hand a lifecycle event the CLI caused (create, start, stop...) to the project's
    supervisor, which fans it out to ``events`` subscribers like its own. Best effort: with
    no supervisor there is no subscriber either, and the event is dropped."""
    try:
        _kept_request(project, _PUBLISH_TIMEOUT, {"op": "publish", "event": event})
    except (OSError, ValueError):
        pass


def watch(project: str, container_id: str) -> None:
    """Ask the supervisor to (re)read a container's row and supervise it; when none answers
    (it was killed), start one: it re-adopts every container of the project."""
    message = {"op": "watch", "container": container_id}
    try:
        _kept_request(project, _REQUEST_TIMEOUT, message)
    except OSError:
        ensure_supervisor(project)
        _kept_request(project, _REQUEST_TIMEOUT, message)


def stop_supervisor(project: str, timeout: float = 10.0) -> None:
    """Ask the supervisor to exit and wait until it has (it holds a lock on its pid file
    until the very end); containers are not touched. No-op when none runs."""
    try:
        lock = open(pid_path(project), "rb")  # noqa: SIM115 - closed below
    except OSError:
        lock = None
    try:
        request(project, "shutdown")
    except OSError:
        pass
    if lock is None:
        return
    with lock:
        waiter = threading.Thread(target=fcntl.flock, args=(lock.fileno(), fcntl.LOCK_EX),
                                  daemon=True)
        waiter.start()
        waiter.join(timeout)
        if not waiter.is_alive():  # we hold the lock: no supervisor; a SIGKILLed one's files
            _unlink_if_same(pid_path(project), lock.fileno())
            socket_path(project).unlink(missing_ok=True)


def _unlink_if_same(path: Path, fd: int) -> None:
    """Remove ``path`` if it is still the file open as ``fd`` (a new supervisor may have made
    a new one meanwhile)."""
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            path.unlink()
    except FileNotFoundError:
        pass


class Subscription:
    """A stream of supervisor events; iterate it on one thread, ``close()`` from any other."""

    def __init__(self, project: str, since: float | None = None,
                 until: float | None = None) -> None:
        self._sock = _connect(project, timeout=None)
        request: dict[str, Any] = {"op": "subscribe"}
        if since is not None:  # replay the supervisor's kept events from then on
            request["since"] = since
        if until is not None:  # the kept events up to it (all, without since); one already
            request["until"] = until  # past ends the stream after them
        self._sock.sendall(json.dumps(request).encode() + b"\n")
        self._stream = self._sock.makefile("rb")
        if not self._stream.readline():  # {"ok": true}: from here on no event is missed
            raise OSError("supervisor closed the subscription")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        try:
            for line in self._stream:
                yield dict(json.loads(line))
        except (OSError, ValueError):
            return

    def close(self) -> None:
        """End the stream (the iterating thread sees end-of-file)."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
