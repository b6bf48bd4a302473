"""The parent <-> init protocol, over an AF_UNIX SOCK_SEQPACKET socketpair (one JSON object per
packet, so no framing is needed).

create::

    parent                          bootstrap (A)                     init (B, PID 1)
      fork A ──────────────────────▶ join the cgroup (itself: see
                                     CgroupDriver.join_self)
                                     setns / unshare(user)
                      ◀──────────── USERNS (only with a user namespace)
      write uid_map/gid_map
      send MAPPED ─────────────────▶ unshare(rest), fork B ─────────▶
                      ◀──────────── PID {pid: B}; exit 0
                      ◀──────────────────────────────────────────── HOOKS (only with createRuntime
      run createRuntime/prestart hooks                                   or prestart hooks)
      send GO ─────────────────────────────────────────────────────▶ (then rootfs, pivot_root...)
                      ◀──────────────────────────────────────────── WARNING {message} (0..n)
                      ◀──────────────────────────────────────────── READY | ERROR {step, message,
                                                                           exit_code}
    start: open exec.fifo for reading ─────────────────────────────▶ (blocked opening exec.fifo for
                                                                     writing) write 1 byte; execve

exec uses the same messages without MAPPED/USERNS and without the fifo.
"""
from __future__ import annotations

import json
import socket
from enum import StrEnum
from typing import Any

from engine.errors import EngineError


class Msg(StrEnum):
    """Message types."""

    GO = "go"
    USERNS = "userns"
    MAPPED = "mapped"
    PID = "pid"
    HOOKS = "hooks"
    WARNING = "warning"
    READY = "ready"
    ERROR = "error"


def pair() -> tuple[socket.socket, socket.socket]:
    """A (parent, child) socketpair; both ends are close-on-exec."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, kind: Msg, **fields: Any) -> None:
    """Send one message."""
    sock.send(json.dumps({"type": kind.value, **fields}).encode())


def recv(sock: socket.socket, step: str, obj: str) -> dict[str, Any]:
    """Receive one message; EOF (the peer died) becomes an EngineError."""
    data = sock.recv(65536)
    if not data:
        raise EngineError("container init exited during setup", step=step, obj=obj)
    msg: dict[str, Any] = json.loads(data)
    return msg


def expect(sock: socket.socket, kind: Msg, step: str, obj: str) -> dict[str, Any]:
    """Receive one message and insist on its type."""
    msg = recv(sock, step, obj)
    if msg.get("type") != kind.value:
        raise EngineError(f"protocol error: expected {kind.value}, got {msg.get('type')}",
                          step=step, obj=obj)
    return msg
