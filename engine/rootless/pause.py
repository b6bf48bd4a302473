"""The pause process: owns the rootless user, mount and network namespaces, and forwards
published ports.

Its parent (the rootless daemon, in the host's namespaces) binds each published port on the host
and sends the listening socket here over a SOCK_SEQPACKET pair with SCM_RIGHTS. Connections
accepted on it come from the host's network namespace; the connection to the container is made
from here, inside the rootless one. One thread accepts per port, two copy per connection.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading

log = logging.getLogger(__name__)

CHUNK = 65536
UDP_IDLE = 60.0  # seconds a UDP client's upstream socket lives without traffic


def serve(ctl: socket.socket) -> None:
    """Handle the daemon's add/remove messages until it goes away, then exit."""
    listeners: dict[str, socket.socket] = {}
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctl, 4096, 1)
        except OSError:
            data, fds = b"", []
        if not data:
            os._exit(0)
        msg = json.loads(data)
        if msg["op"] == "add" and fds:
            sock = socket.socket(fileno=fds[0])
            listeners[msg["key"]] = sock
            target = (msg["target"][0], int(msg["target"][1]))
            loop = _accept_loop if sock.type == socket.SOCK_STREAM else _udp_loop
            threading.Thread(target=loop, args=(sock, target), daemon=True).start()
        elif msg["op"] == "remove":
            gone = listeners.pop(msg["key"], None)
            if gone is not None:
                _close_listener(gone)


def _close_listener(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()/recvfrom()
    except OSError:
        pass
    sock.close()


def _accept_loop(listener: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_relay, args=(conn, target), daemon=True).start()


def _relay(conn: socket.socket, target: tuple[str, int]) -> None:
    try:
        upstream = socket.create_connection(target, timeout=10)
    except OSError as e:
        log.info("published port: cannot reach %s:%s: %s", *target, e)
        conn.close()
        return
    upstream.settimeout(None)
    back = threading.Thread(target=_copy, args=(upstream, conn), daemon=True)
    back.start()
    _copy(conn, upstream)
    back.join()
    conn.close()
    upstream.close()


def _copy(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(CHUNK):
            dst.sendall(data)
    except OSError:
        pass
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def _udp_loop(listener: socket.socket, target: tuple[str, int]) -> None:
    peers: dict[tuple[str, int], socket.socket] = {}
    while True:
        try:
            data, peer = listener.recvfrom(CHUNK)
        except OSError:
            return
        if not data and listener.fileno() < 0:
            return
        upstream = peers.get(peer)
        if upstream is None:
            upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            upstream.connect(target)
            peers[peer] = upstream
            threading.Thread(target=_udp_back, args=(upstream, listener, peer, peers),
                             daemon=True).start()
        try:
            upstream.send(data)
        except OSError:
            pass


def _udp_back(upstream: socket.socket, listener: socket.socket, peer: tuple[str, int],
              peers: dict[tuple[str, int], socket.socket]) -> None:
    upstream.settimeout(UDP_IDLE)
    try:
        while True:
            data = upstream.recv(CHUNK)
            listener.sendto(data, peer)
    except OSError:
        pass
    peers.pop(peer, None)
    upstream.close()
