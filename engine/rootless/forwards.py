"""The daemon's table of published ports: bind on the host, hand the socket to the pause process.

A port is bound here, in the host's network namespace, so it is a real host port (127.0.0.1 or
0.0.0.0 as asked); the pause process accepts on it and connects to the container from inside the
rootless network namespace. Errors come back as ``{"error": ..., "kind": ...}`` replies.
"""
from __future__ import annotations

import errno
import json
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PORT_START = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")


@dataclass(frozen=True, slots=True)
class Forward:
    """One published port: host side and container side."""

    protocol: str
    host_ip: str
    host_port: int
    target_ip: str
    target_port: int

    @property
    def key(self) -> str:
        """Identity of the host socket."""
        return f"{self.protocol}/{self.host_ip}/{self.host_port}"


class Table:
    """Published ports per container, kept in step with the pause process."""

    def __init__(self, ctl: socket.socket) -> None:
        self.ctl = ctl
        self._by_container: dict[str, list[Forward]] = {}

    def apply(self, container: str, wanted: list[dict[str, Any]]) -> dict[str, Any]:
        """Make the container's forwards ``wanted`` (host_port 0: pick one); reply the ports."""
        current = self._by_container.pop(container, [])
        keep: list[Forward] = []
        ports: list[int] = []
        try:
            for item in wanted:
                fwd = _from_request(item)
                same = next((f for f in current if _same(f, fwd)), None)
                if same is None:
                    same = self._add(fwd)
                else:
                    current.remove(same)
                keep.append(same)
                ports.append(same.host_port)
        except OSError as e:
            current += keep  # a failed request leaves nothing of itself behind
            keep = []
            return _error(e)
        finally:
            for stale in current:
                self._send({"op": "remove", "key": stale.key})
            if keep:
                self._by_container[container] = keep
        return {"ports": ports}

    def _add(self, fwd: Forward) -> Forward:
        sock = _bind(fwd)
        try:
            port = sock.getsockname()[1]
            bound = Forward(fwd.protocol, fwd.host_ip, port, fwd.target_ip, fwd.target_port)
            socket.send_fds(self.ctl, [json.dumps({
                "op": "add", "key": bound.key,
                "target": [bound.target_ip, bound.target_port]}).encode()], [sock.fileno()])
        finally:
            sock.close()
        return bound

    def _send(self, msg: dict[str, Any]) -> None:
        try:
            self.ctl.send(json.dumps(msg).encode())
        except OSError:
            pass


def _from_request(item: dict[str, Any]) -> Forward:
    return Forward(str(item["protocol"]), str(item["host_ip"]), int(item["host_port"]),
                   str(item["target_ip"]), int(item["target_port"]))


def _same(have: Forward, want: Forward) -> bool:
    return (have.protocol, have.host_ip, have.target_ip, have.target_port) == (
        want.protocol, want.host_ip, want.target_ip, want.target_port) and (
        want.host_port in (0, have.host_port))


def _bind(fwd: Forward) -> socket.socket:
    kind = socket.SOCK_STREAM if fwd.protocol == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((fwd.host_ip, fwd.host_port))
        if kind == socket.SOCK_STREAM:
            sock.listen(128)
    except OSError as e:
        sock.close()
        e.filename = f"{fwd.host_ip}:{fwd.host_port}/{fwd.protocol}"
        raise
    return sock


def _error(exc: OSError) -> dict[str, Any]:
    where = exc.filename or "?"
    if exc.errno == errno.EACCES:
        try:
            start = PORT_START.read_text().strip()
        except OSError:
            start = "1024"
        port = where.split(":")[-1].split("/")[0]
        return {"kind": "privilege", "error": (
            f"port {where}: rootless cannot bind ports below "
            f"net.ipv4.ip_unprivileged_port_start ({start}); publish a port >= {start}, or "
            f"(as root, once) sysctl -w net.ipv4.ip_unprivileged_port_start={port}")}
    if exc.errno == errno.EADDRINUSE:
        return {"kind": "conflict", "error": f"port {where} is in use on the host"}
    return {"kind": "other", "error": f"port {where}: {exc.strerror}"}
