"""Unix sockets at paths longer than AF_UNIX allows (deep state roots, long project names)."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from engine.unixaddr import MAX_NAME, short_name, unix_address


def test_a_socket_deeper_than_sun_path_binds_and_connects(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["d" * 40] * 4))
    deep.mkdir(parents=True)
    path = deep / "server.sock"
    assert len(str(path)) > 108
    with pytest.raises(OSError):  # what the plain path does
        socket.socket(socket.AF_UNIX).bind(str(path))
    with socket.socket(socket.AF_UNIX) as server:
        with unix_address(path) as address:
            server.bind(address)
        server.listen(1)
        assert path.exists()
        with socket.socket(socket.AF_UNIX) as client:
            with unix_address(path) as address:
                client.connect(address)
            conn, _ = server.accept()
            with conn:
                client.sendall(b"hi")
                assert conn.recv(2) == b"hi"


def test_a_short_path_is_used_as_it_is(tmp_path: Path) -> None:
    with unix_address(tmp_path / "s.sock") as address:
        assert address == str(tmp_path / "s.sock")


def test_long_keys_become_a_digest_and_stay_distinct() -> None:
    assert short_name("project-", "web", ".sock") == "project-web.sock"
    a, b = (short_name("project-", k * 100, ".sock") for k in "ab")
    assert a != b and len(a) <= MAX_NAME and a.startswith("project-") and a.endswith(".sock")
