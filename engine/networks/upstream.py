"""Forwarding unknown names to the host's resolvers, from the host namespace.

Upstreams come from the host's /etc/resolv.conf, or from ``PYCOMPOSE_DNS_UPSTREAMS``
(``ip[:port],[v6]:port,...``; tests point it at a fake resolver on loopback). Queries are relayed
as raw bytes: over UDP first; a truncated UDP answer is passed back as is to a UDP client (which
then retries over TCP, as resolvers do) and re-asked over TCP for a TCP client.
"""
from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

log = logging.getLogger(__name__)

UPSTREAMS_ENV = "PYCOMPOSE_DNS_UPSTREAMS"
TIMEOUT = 2.0
Upstream = tuple[str, int]


def parse_upstream(text: str) -> Upstream:
    """``1.2.3.4``, ``1.2.3.4:5353``, ``[fd00::1]:53`` or ``fd00::1`` -> (ip, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
        return host.rstrip("]"), int(port or 53)
    if text.count(":") == 1:
        host, port = text.split(":")
        return host, int(port)
    return text, 53


def resolv_conf_nameservers(text: str) -> list[str]:
    """The ``nameserver`` entries of a resolv.conf text."""
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            found.append(parts[1].split("%")[0])
    return found


def configured_upstreams(resolv_conf: Path = Path("/etc/resolv.conf")) -> list[Upstream]:
    override = os.environ.get(UPSTREAMS_ENV)
    if override is not None:
        return [parse_upstream(t) for t in override.split(",") if t.strip()]
    try:
        return [(ns, 53) for ns in resolv_conf_nameservers(resolv_conf.read_text())]
    except OSError:
        return []


def forward(data: bytes, upstreams: list[Upstream], *, tcp: bool) -> bytes | None:
    """Relay one query; return the first upstream's answer, or None if none answered."""
    for server in upstreams:
        try:
            reply = _udp(data, server) if not tcp else None
            if reply is None or (tcp and _truncated(reply)):
                reply = _tcp(data, server)
            return reply
        except OSError as exc:
            log.debug("upstream %s: %s", server, exc)
    return None


def _truncated(reply: bytes) -> bool:
    return len(reply) >= 3 and bool(reply[2] & 0x02)


def _family(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _udp(data: bytes, server: Upstream) -> bytes:
    with socket.socket(_family(server[0]), socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(server)
        sock.send(data)
        while True:
            reply = sock.recv(65535)
            if reply[:2] == data[:2]:  # ignore stray answers to other ids
                return reply


def _tcp(data: bytes, server: Upstream) -> bytes:
    with socket.create_connection(server, timeout=TIMEOUT) as sock:
        sock.sendall(len(data).to_bytes(2, "big") + data)
        reply = recv_framed(sock)
        if reply is None:
            raise ConnectionError("upstream closed the TCP connection")
        return reply


def recv_framed(sock: socket.socket) -> bytes | None:
    """Read one length-prefixed DNS message from a stream; None at EOF."""
    head = _recv_exact(sock, 2)
    if head is None:
        return None
    return _recv_exact(sock, int.from_bytes(head, "big"))


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buf = b""
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf
