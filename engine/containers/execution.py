"""``exec``: run another process inside a running container, through its shim.

The client sends one JSON request and its three stdio descriptors (SCM_RIGHTS) over
``shim.sock``; the shim asks the runtime to start the process (it becomes the shim's child, the
shim being a subreaper), answers ``{"pid": N}``, and later ``{"exit": code}`` when it reaps it;
meanwhile the client may ask the shim to signal the process's group (timeouts, ^C without a tty;
see :mod:`engine.containers.sessions`). The process inherits the container's capabilities,
no_new_privs, rlimits and environment.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.containers import frames, paths, security, terminal
from engine.containers.users import resolve_user
from engine.errors import Conflict, EngineError
from engine.fdwait import readable

_MAX_REQUEST = 1 << 20
_KILL_GRACE = 10.0  # seconds for the shim to reap a process it killed


def build_process(cid: str, argv: list[str], env: tuple[str, ...], user: str,
                  workdir: str, *, tty: bool = False,
                  privileged: bool = False) -> dict[str, Any]:
    """The OCI process for an exec, derived from the container's own process. ``privileged``
    gives it every capability (docker's ``exec --privileged``; seccomp and no_new_privs stay
    the container's)."""
    if not argv:
        raise EngineError("no command specified", step="exec", obj=cid[:12])
    config = json.loads((paths.bundle_dir(cid) / "config.json").read_text())
    process: dict[str, Any] = dict(config["process"])
    if user:
        resolved = resolve_user(paths.rootfs_dir(cid), user)
        process["user"] = {"uid": resolved.uid, "gid": resolved.gid,
                           **({"additionalGids": list(resolved.additional_gids)}
                              if resolved.additional_gids else {})}
        base_env = [e for e in process["env"] if not e.startswith("HOME=")]
        base_env.append(f"HOME={resolved.home}")  # the exec'd user's home, as docker does
    else:
        base_env = list(process["env"])
    process.update(args=list(argv), env=_merge_env(base_env, env), terminal=tty)
    process.pop("consoleSize", None)
    if privileged:  # like a privileged container's process (bundle.py)
        process["capabilities"] = {kind: list(security.ALL_CAPS)
                                   for kind in ("bounding", "effective", "permitted")}
    if workdir:
        process["cwd"] = workdir
    return process


def _merge_env(base: list[str], extra: tuple[str, ...]) -> list[str]:
    merged = {e.partition("=")[0]: e for e in base}
    merged.update({e.partition("=")[0]: e for e in extra})
    return list(merged.values())


class ExecTimeout(EngineError):
    """The exec'd process ran past its timeout; it and its process group were killed."""


def run(cid: str, process: dict[str, Any], stdin: int | None, stdout: int | None,
        stderr: int | None, *, timeout: float | None = None,
        proxy_signals: bool = False, detach: bool = False) -> int:
    """Ask the shim to exec ``process`` and block until it exits; return its exit code.
    ``timeout``: past it the shim kills the process group and :class:`ExecTimeout` is raised.
    ``proxy_signals``: SIGINT, SIGTERM, SIGHUP, SIGQUIT received here go to the process.
    ``detach``: return 0 once it started; it keeps running without this client, its stdio
    /dev/null (the stdio given still gets a start failure's message)."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        fds = [null if fd is None or detach else fd for fd in (stdin, stdout, stderr)]
        # Proxied signals are caught from before the request: the process may write (and be
        # signalled by whoever reads that) before the shim's "started" reply reaches us.
        with terminal.forwarded_signals(proxy_signals and not detach) as pending, \
                _request(cid, process, fds) as sock:
            replies = _Replies(sock)
            _check_started(cid, replies.next(None) or b"")
            if detach:
                return 0
            return _await_exit(cid, sock, replies, timeout, pending)
    finally:
        os.close(null)


def _await_exit(cid: str, sock: socket.socket, replies: _Replies, timeout: float | None,
                pending: terminal.SignalQueue) -> int:
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        line = replies.next(left, wake=pending.fd)
        for sig in pending.take():
            sock.sendall(frames.encode(frames.SIGNAL, str(sig).encode()))
        if line is not None:
            return int(json.loads(line or b'{"exit": 137}')["exit"])
        if deadline is not None and time.monotonic() >= deadline:
            sock.sendall(frames.encode(frames.SIGNAL, str(int(signal.SIGKILL)).encode()))
            replies.next(_KILL_GRACE)  # the shim reaped it (or gave up on it)
            raise ExecTimeout(f"the process ran past its timeout ({timeout:g}s) and was "
                              "killed", step="exec", obj=cid[:12])


class _Replies:
    """JSON lines from the shim, read with a timeout (b"" once the shim is gone)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def next(self, timeout: float | None, wake: int = -1) -> bytes | None:
        """The next line; None when ``timeout`` passed or ``wake`` became readable first."""
        while b"\n" not in self.buffer:
            watched = [self.sock] + ([wake] if wake >= 0 else [])
            ready = readable(watched, timeout)
            if self.sock not in ready:
                return None
            chunk = self.sock.recv(4096)
            if not chunk:
                return b""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line


def run_with_pty(cid: str, process: dict[str, Any], stdin: int | None,
                 stdout: int | None) -> int:
    """Exec with a pseudo-terminal: the runtime allocates it in the container (its controlling
    terminal, sized like the caller's), the shim hands the master here, and this side relays
    ``stdin`` → master → ``stdout`` (the caller's terminal in raw mode, restored on every way
    out) and copies the caller's window size to it on every SIGWINCH. ^C is a byte the pty's
    line discipline turns into SIGINT for the process's foreground group."""
    caller = stdout if stdout is not None else 1
    size = terminal.window_size(caller)
    if size is not None:
        process = {**process, "consoleSize": {"height": size[0], "width": size[1]}}
    null = os.open(os.devnull, os.O_RDWR)
    try:
        with _request(cid, {**process, "terminal": True}, [null] * 3, tty=True) as sock:
            os.close(null)
            null = -1
            line, master, rest = _started_with_terminal(sock)
            _check_started(cid, line)
            if master < 0:
                raise EngineError("the shim sent no terminal", step="exec", obj=cid[:12])
            try:
                with terminal.raw(stdin), terminal.on_resize(
                        lambda: terminal.copy_window_size(caller, master)):
                    return terminal.relay(sock, master, stdin, stdout, rest)
            finally:
                os.close(master)
    finally:
        if null >= 0:
            os.close(null)


def _started_with_terminal(sock: socket.socket) -> tuple[bytes, int, bytes]:
    """The first reply line, the pty master sent with it (-1 if none), bytes read past it."""
    data, fds, _, _ = socket.recv_fds(sock, 65536, 1)
    while b"\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    line, _, rest = data.partition(b"\n")
    return line, (fds[0] if fds else -1), rest


@contextlib.contextmanager
def _request(cid: str, process: dict[str, Any], fds: list[int],
             tty: bool = False) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            with paths.short_socket_path(cid) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            raise Conflict("container is not running", step="exec", obj=cid[:12]) from None
        socket.send_fds(sock, [json.dumps({"process": process, "tty": tty}).encode()], fds)
        yield sock


def _check_started(cid: str, line: bytes) -> None:
    first = json.loads(line or b'{"error": "the shim went away"}')
    if "pid" not in first:
        err = EngineError(first.get("error", "exec failed"), step="exec", obj=cid[:12])
        err.exit_code = first.get("exit_code", 126)  # type: ignore[attr-defined]
        raise err


def receive_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Shim side: read the request and its descriptors (three for an exec, none for an
    attach)."""
    data, fds, _, _ = socket.recv_fds(conn, _MAX_REQUEST, 3)
    try:
        request = json.loads(data)
        if not isinstance(request, dict):
            raise ValueError("the request is not an object")
        if len(fds) != (0 if "attach" in request else 3):
            raise ValueError("expected three descriptors for an exec, none for an attach")
    except ValueError:
        for fd in fds:
            os.close(fd)
        raise
    return request, list(fds)


def run_captured(cid: str, process: dict[str, Any], stdin: int | None = None,
                 timeout: float | None = None) -> tuple[int, bytes, bytes]:
    """Like :func:`run`, collecting stdout and stderr (into temporary files, no threads)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = run(cid, process, stdin, out.fileno(), err.fileno(), timeout=timeout)
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def bundle_exists(cid: str) -> bool:
    """True when the container's bundle (and so a config.json) exists."""
    return Path(paths.bundle_dir(cid) / "config.json").exists()
