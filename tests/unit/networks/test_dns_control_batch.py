"""The DNS daemon's control socket: requests queued behind one another are answered together,
with one read of the store for all their ``sync``s (a unit test: the store read is counted,
no namespace is made)."""
from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from engine.networks import dns_server


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dns_server.Daemon:
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.bind(str(tmp_path / "control.sock"))
    control.listen(64)
    d = dns_server.Daemon(tmp_path, control)
    d.syncs = 0  # type: ignore[attr-defined]

    def counted_sync() -> None:
        d.syncs += 1  # type: ignore[attr-defined]

    monkeypatch.setattr(d, "sync", counted_sync)
    yield d
    d.pool.shutdown()
    control.close()


def _client(path: Path, request: bytes | None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(path))
    if request is None:
        sock.close()  # a liveness probe
    else:
        sock.sendall(request)
    return sock


def _reply(sock: socket.socket) -> dict[str, object]:
    sock.settimeout(5)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(4096)
        assert chunk, "the daemon closed without a reply"
        data += chunk
    sock.close()
    reply: dict[str, object] = json.loads(data)
    return reply


def test_queued_syncs_are_answered_with_one_store_read(daemon: dns_server.Daemon,
                                                       tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    syncs = [_client(path, b'{"op": "sync"}\n') for _ in range(3)]
    _client(path, None)
    ping = _client(path, b'{"op": "ping"}\n')
    syncs += [_client(path, b'{"op": "sync"}\n') for _ in range(2)]
    bogus = _client(path, b'{"op": "nonsense"}\n')

    daemon.on_control()

    assert daemon.syncs == 1  # type: ignore[attr-defined]
    for sock in syncs:
        assert _reply(sock)["ok"] is True
    assert _reply(ping)["ok"] is True
    assert _reply(bogus) == {"ok": False, "error": "unknown op 'nonsense'"}


def test_a_sync_sent_after_the_batch_gets_its_own_read(daemon: dns_server.Daemon,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "control.sock"
    first = _client(path, b'{"op": "sync"}\n')
    daemon.on_control()
    assert _reply(first)["ok"] is True
    later = _client(path, b'{"op": "sync"}\n')
    served = threading.Thread(target=daemon.on_control)
    served.start()
    assert _reply(later)["ok"] is True
    served.join(5)
    assert daemon.syncs == 2  # type: ignore[attr-defined]
