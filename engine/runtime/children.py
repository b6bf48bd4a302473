"""The runtime's direct children (the bootstrap processes) and the replies they send."""
from __future__ import annotations

import contextlib
import logging
import os
import socket
from typing import Any

from engine.errors import EngineError
from engine.runtime import init as init_mod
from engine.runtime.sync import Msg, recv

log = logging.getLogger(__name__)


class ExecFailed(EngineError):
    """The user command could not be executed; ``exit_code`` is docker's (126/127)."""

    def __init__(self, message: str, *, step: str, obj: str, exit_code: int) -> None:
        super().__init__(message, step=step, obj=obj)
        self.exit_code = exit_code


def error_from(msg: dict[str, Any], cid: str) -> EngineError:
    """Turn an ERROR message from an init into the exception the caller sees."""
    code = int(msg.get("exit_code") or 1)
    if msg.get("step") == "exec" and code in (126, 127):
        return ExecFailed(msg["message"], step="exec", obj=cid, exit_code=code)
    return EngineError(msg.get("message", "failed"), step=msg.get("step"), obj=cid)


def wait_pid_and_ready(sock: socket.socket, cid: str,
                       pid_a: int) -> tuple[int, EngineError | None]:
    """Collect an exec bootstrap's PID and its process's READY or ERROR, in whichever order
    they arrive (two processes send them); reap the bootstrap. Returns (pid, error): the pid
    is known even when the process failed, so the caller can reap it."""
    pid = 0
    outcome: EngineError | None = None
    ready = False
    try:
        while not (pid and (ready or outcome)):
            try:
                msg = recv(sock, "exec", cid)
            except EngineError as e:  # every sender is gone
                return pid, outcome or e
            if msg["type"] == Msg.PID:
                pid = int(msg["pid"])
                reap(pid_a)
            elif msg["type"] == Msg.READY:
                ready = True
            elif msg["type"] == Msg.ERROR:
                outcome = error_from(msg, cid)
            elif msg["type"] == Msg.WARNING:
                log.warning("exec in %s: %s", cid, msg["message"])
    finally:
        reap(pid_a)
    return pid, outcome


def fork_child(run: Any, stdio: tuple[int | None, ...], keep: set[int]) -> int:
    """Fork; the child sets up stdio, closes stray fds and runs ``run`` (which never returns)."""
    pid = os.fork()
    if pid == 0:
        try:
            init_mod.setup_stdio(*stdio)
            init_mod.close_fds_except({0, 1, 2, *keep})
            run()
        finally:
            os._exit(1)
    return pid


def reap(pid: int) -> None:
    """waitpid() a child if it is ours (someone else may have reaped it already)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
