"""``exec``: run another process inside a running container, through its shim.

The client sends one JSON request and its three stdio descriptors (SCM_RIGHTS) over
``shim.sock``; the shim asks the runtime to start the process (it becomes the shim's child, the
shim being a subreaper), answers ``{"pid": N}``, and later ``{"exit": code}`` when it reaps it.
The process inherits the container's capabilities, no_new_privs, rlimits and environment.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.containers import paths, terminal
from engine.containers.users import resolve_user
from engine.errors import Conflict, EngineError

_MAX_REQUEST = 1 << 20


def build_process(cid: str, argv: list[str], env: tuple[str, ...], user: str,
                  workdir: str) -> dict[str, Any]:
    """The OCI process for an exec, derived from the container's own process."""
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
    process.update(args=list(argv), env=_merge_env(base_env, env), terminal=False)
    if workdir:
        process["cwd"] = workdir
    return process


def _merge_env(base: list[str], extra: tuple[str, ...]) -> list[str]:
    merged = {e.partition("=")[0]: e for e in base}
    merged.update({e.partition("=")[0]: e for e in extra})
    return list(merged.values())


def run(cid: str, process: dict[str, Any], stdin: int | None, stdout: int | None,
        stderr: int | None) -> int:
    """Ask the shim to exec ``process`` and block until it exits; return its exit code."""
    null = os.open(os.devnull, os.O_RDWR)
    try:
        fds = [null if fd is None else fd for fd in (stdin, stdout, stderr)]
        with _request(cid, process, fds) as sock:
            reader = sock.makefile("rb")
            _check_started(cid, reader.readline())
            done = json.loads(reader.readline() or b'{"exit": 137}')
            return int(done["exit"])
    finally:
        os.close(null)


def run_with_pty(cid: str, process: dict[str, Any], stdin: int | None,
                 stdout: int | None) -> int:
    """Exec with a pseudo-terminal allocated here: the process gets the slave as its stdio,
    this side relays ``stdin`` → master → ``stdout`` (the caller's terminal in raw mode).
    The terminal is not the process's controlling tty, so ^C reaches it as a byte only."""
    master, slave = os.openpty()
    try:
        terminal.copy_window_size(stdout if stdout is not None else 1, slave)
        with _request(cid, process, [slave, slave, slave]) as sock:
            os.close(slave)
            slave = -1
            with terminal.raw(stdin):
                return terminal.relay(sock, master, stdin, stdout,
                                      lambda line: _check_started(cid, line))
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)


@contextlib.contextmanager
def _request(cid: str, process: dict[str, Any], fds: list[int]) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            with paths.short_socket_path(cid) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            raise Conflict("container is not running", step="exec", obj=cid[:12]) from None
        socket.send_fds(sock, [json.dumps({"process": process}).encode()], fds)
        yield sock


def _check_started(cid: str, line: bytes) -> None:
    first = json.loads(line or b'{"error": "the shim went away"}')
    if "pid" not in first:
        err = EngineError(first.get("error", "exec failed"), step="exec", obj=cid[:12])
        err.exit_code = first.get("exit_code", 126)  # type: ignore[attr-defined]
        raise err


def receive_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    """Shim side: read the request and the three descriptors."""
    data, fds, _, _ = socket.recv_fds(conn, _MAX_REQUEST, 3)
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        raise ValueError("expected three descriptors")
    return json.loads(data), list(fds)


def run_captured(cid: str, process: dict[str, Any],
                 stdin: int | None = None) -> tuple[int, bytes, bytes]:
    """Like :func:`run`, collecting stdout and stderr (into temporary files, no threads)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code = run(cid, process, stdin, out.fileno(), err.fileno())
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def bundle_exists(cid: str) -> bool:
    """True when the container's bundle (and so a config.json) exists."""
    return Path(paths.bundle_dir(cid) / "config.json").exists()
