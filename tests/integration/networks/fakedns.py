"""A tiny upstream DNS server on loopback (host namespace) so forwarding is tested without
sending anything to real resolvers.

Answers ``*.upstream.test`` with A 10.99.0.1; ``big.upstream.test`` gets 40 A records, which
over UDP comes back truncated (TC) and in full over TCP. Everything else is NXDOMAIN. The 40
addresses carry the instance's port (10.<port high>.<port low>.n), so a test can tell that *its*
upstream answered and not one left over from another test, and every query is logged with its
transport. ``close`` shuts the sockets down before closing them: a thread blocked in
``accept``/``recvfrom`` on a merely closed socket keeps it bound and answering.
"""
from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

BIG = "big.upstream.test."


def big_addresses(port: int) -> list[str]:
    """The 40 addresses the fake on ``port`` answers for ``big.upstream.test``."""
    return [f"10.{port >> 8}.{port & 0xFF}.{i}" for i in range(1, 41)]


def _reply(wire: bytes, *, tcp: bool, port: int) -> bytes:
    query = dns.message.from_wire(wire)
    resp = dns.message.make_response(query)
    name = query.question[0].name.to_text().lower()
    if name == BIG:
        if not tcp:
            resp.flags |= dns.flags.TC
        else:
            resp.answer.append(dns.rrset.from_text_list(name, 30, "IN", "A",
                                                        big_addresses(port)))
    elif name.endswith(".upstream.test."):
        resp.answer.append(dns.rrset.from_text(name, 30, "IN", "A", "10.99.0.1"))
    else:
        resp.set_rcode(dns.rcode.NXDOMAIN)
    return resp.to_wire()


class FakeUpstream:
    """UDP and TCP on (ip, port), served by two daemon threads; counts queries."""

    def __init__(self, ip: str = "127.0.0.77") -> None:
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((ip, 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((ip, self.port))
        self.tcp.listen(8)
        self.address = f"{ip}:{self.port}"
        self.udp_queries = 0
        self.tcp_queries = 0
        self.log: list[tuple[str, str]] = []  # (transport, query name), in arrival order
        self._stop = False
        self._threads = [threading.Thread(target=self._serve_udp, daemon=True),
                         threading.Thread(target=self._serve_tcp, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _note(self, transport: str, wire: bytes) -> None:
        try:
            name = dns.message.from_wire(wire).question[0].name.to_text().lower()
        except Exception:  # a garbled query is still a query
            name = "?"
        self.log.append((transport, name))

    def _serve_udp(self) -> None:
        while not self._stop:
            try:
                data, addr = self.udp.recvfrom(4096)
            except OSError:
                return
            if self._stop or not data:  # woken by close()
                return
            self.udp_queries += 1
            self._note("udp", data)
            self.udp.sendto(_reply(data, tcp=False, port=self.port), addr)

    def _serve_tcp(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            if self._stop:
                conn.close()
                return
            with conn:
                conn.settimeout(5)
                try:
                    size = int.from_bytes(_recv_exact(conn, 2), "big")
                    data = _recv_exact(conn, size)
                except OSError:
                    continue
                self.tcp_queries += 1
                self._note("tcp", data)
                reply = _reply(data, tcp=True, port=self.port)
                conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def close(self) -> None:
        self._stop = True
        for sock in (self.udp, self.tcp):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked on it
            except OSError:
                pass
        for thread in self._threads:
            thread.join(timeout=5)
        self.udp.close()
        self.tcp.close()


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data
