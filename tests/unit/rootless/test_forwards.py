"""The daemon's table of published ports: host sockets handed over, removed, errors worded."""
from __future__ import annotations

import errno
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from engine.rootless import forwards, pause


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    yield a, b
    a.close()
    b.close()


def _want(port: int = 0, target: int = 80) -> dict[str, object]:
    return {"protocol": "tcp", "host_ip": "127.0.0.1", "host_port": port,
            "target_ip": "10.0.0.2", "target_port": target}


def test_a_port_is_bound_on_the_host_and_handed_over(pair: tuple[socket.socket, ...]) -> None:
    ctl, pause_end = pair
    table = forwards.Table(ctl)
    reply = table.apply("c1", [_want()])
    port = reply["ports"][0]
    data, fds, _, _ = socket.recv_fds(pause_end, 4096, 1)
    msg = json.loads(data)
    assert msg == {"op": "add", "key": f"tcp/127.0.0.1/{port}", "target": ["10.0.0.2", 80]}
    with socket.socket(fileno=fds[0]) as handed:
        assert handed.getsockname() == ("127.0.0.1", port)
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the handed-over socket listens


def test_same_request_again_keeps_the_socket(pair: tuple[socket.socket, ...]) -> None:
    ctl, pause_end = pair
    table = forwards.Table(ctl)
    port = table.apply("c1", [_want()])["ports"][0]
    socket.recv_fds(pause_end, 4096, 1)
    assert table.apply("c1", [_want(port)]) == {"ports": [port]}
    pause_end.setblocking(False)
    with pytest.raises(BlockingIOError):
        pause_end.recv(4096)  # nothing new was sent


def test_an_empty_set_removes(pair: tuple[socket.socket, ...]) -> None:
    ctl, pause_end = pair
    table = forwards.Table(ctl)
    port = table.apply("c1", [_want()])["ports"][0]
    socket.recv_fds(pause_end, 4096, 1)
    assert table.apply("c1", []) == {"ports": []}
    assert json.loads(pause_end.recv(4096)) == {"op": "remove", "key": f"tcp/127.0.0.1/{port}"}


def test_a_port_in_use_is_a_conflict(pair: tuple[socket.socket, ...]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        reply = forwards.Table(pair[0]).apply("c1", [_want(taken.getsockname()[1])])
    assert reply["kind"] == "conflict" and "in use on the host" in reply["error"]


def test_privileged_port_error_names_the_sysctl() -> None:
    exc = OSError(errno.EACCES, "Permission denied")
    exc.filename = "0.0.0.0:80/tcp"
    reply = forwards._error(exc)
    assert reply["kind"] == "privilege"
    assert "net.ipv4.ip_unprivileged_port_start" in reply["error"]
    assert "sysctl -w net.ipv4.ip_unprivileged_port_start=80" in reply["error"]


def test_the_pause_relays_a_connection_both_ways() -> None:
    with socket.socket() as backend, socket.socket() as front:
        backend.bind(("127.0.0.1", 0))
        backend.listen()
        front.bind(("127.0.0.1", 0))
        front.listen()

        def echo() -> None:
            conn, _ = backend.accept()
            with conn:
                conn.sendall(conn.recv(100).upper())

        threading.Thread(target=echo, daemon=True).start()
        threading.Thread(target=pause._accept_loop, args=(front, backend.getsockname()),
                         daemon=True).start()
        with socket.create_connection(front.getsockname(), timeout=5) as client:
            client.sendall(b"hello")
            client.shutdown(socket.SHUT_WR)
            assert client.recv(100) == b"HELLO"


def test_the_pause_relays_udp_replies_to_the_sender() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as backend, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as front:
        backend.bind(("127.0.0.1", 0))
        front.bind(("127.0.0.1", 0))

        def echo() -> None:
            data, peer = backend.recvfrom(100)
            backend.sendto(data.upper(), peer)

        threading.Thread(target=echo, daemon=True).start()
        threading.Thread(target=pause._udp_loop, args=(front, backend.getsockname()),
                         daemon=True).start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(5)
            client.sendto(b"ping", front.getsockname())
            assert client.recvfrom(100) == (b"PING", front.getsockname())
