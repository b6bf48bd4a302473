"""A tiny upstream DNS server on loopback (host namespace) so forwarding is tested without
sending anything to real resolvers.

Answers ``*.upstream.test`` with A 10.99.0.1; ``big.upstream.test`` gets 40 A records, which
over UDP comes back truncated (TC) and in full over TCP. Everything else is NXDOMAIN.
"""
from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

BIG = "big.upstream.test."


def _reply(wire: bytes, *, tcp: bool) -> bytes:
    query = dns.message.from_wire(wire)
    resp = dns.message.make_response(query)
    name = query.question[0].name.to_text().lower()
    if name == BIG:
        if not tcp:
            resp.flags |= dns.flags.TC
        else:
            addrs = [f"10.99.1.{i}" for i in range(1, 41)]
            resp.answer.append(dns.rrset.from_text_list(name, 30, "IN", "A", addrs))
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
        self._stop = False
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self._serve_tcp, daemon=True).start()

    def _serve_udp(self) -> None:
        while not self._stop:
            try:
                data, addr = self.udp.recvfrom(4096)
            except OSError:
                return
            self.udp_queries += 1
            self.udp.sendto(_reply(data, tcp=False), addr)

    def _serve_tcp(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                size = int.from_bytes(conn.recv(2), "big")
                data = b""
                while len(data) < size:
                    data += conn.recv(size - len(data))
                self.tcp_queries += 1
                reply = _reply(data, tcp=True)
                conn.sendall(len(reply).to_bytes(2, "big") + reply)

    def close(self) -> None:
        self._stop = True
        self.udp.close()
        self.tcp.close()
