"""The shim's session logic without a container: frames, detach keys, and an attached client
relaying through real pipes and sockets (a fake runtime stands in for exec only)."""
from __future__ import annotations

import json
import os
import selectors
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from engine.containers import frames
from engine.containers.attachment import DetachMatcher, parse_detach_keys
from engine.containers.sessions import MAX_BACKLOG, Sessions
from engine.containers.stdio import ContainerIO


def test_frames_split_across_reads() -> None:
    data = frames.encode(frames.STDOUT, b"hello") + frames.encode(frames.EXIT, b"3")
    decoder = frames.Decoder()
    got = [f for i in range(len(data)) for f in decoder.feed(data[i:i + 1])]
    assert got == [(frames.STDOUT, b"hello"), (frames.EXIT, b"3")]
    assert decoder.buffer == b""


def test_an_oversized_frame_is_refused() -> None:
    with pytest.raises(ValueError):
        list(frames.Decoder().feed(b"i" + (frames.MAX_PAYLOAD + 1).to_bytes(4, "big")))


@pytest.mark.parametrize(("spec", "keys"), [
    ("", b"\x10\x11"), ("ctrl-p,ctrl-q", b"\x10\x11"), ("ctrl-x", b"\x18"),
    ("a,ctrl-@,ctrl-[", b"a\x00\x1b"), ("CTRL-A", b"\x01"),
])
def test_parse_detach_keys(spec: str, keys: bytes) -> None:
    assert parse_detach_keys(spec) == keys


@pytest.mark.parametrize("spec", ["ctrl-", "ctrl-1", "alt-x", "ab"])
def test_bad_detach_keys(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_detach_keys(spec)


def test_detach_matcher_holds_a_prefix_and_releases_a_mismatch() -> None:
    m = DetachMatcher(b"\x10\x11")
    assert m.feed(b"ab\x10") == (b"ab", False)  # ctrl-p held back
    assert m.feed(b"c") == (b"\x10c", False)  # not followed by ctrl-q: released
    assert m.feed(b"\x10\x10") == (b"\x10", False)  # a second ctrl-p starts over
    assert m.feed(b"\x11rest") == (b"", True)
    assert DetachMatcher(b"").feed(b"\x10\x11") == (b"\x10\x11", False)


class _Runtime:
    name = "fake"

    def exec(self, cid: str, process: dict[str, Any], **kwargs: Any) -> int:
        raise AssertionError("no exec in these tests")


class _Shim:
    """The parts of the shim loop the sessions need: a selector and the dispatch."""

    def __init__(self, io: ContainerIO) -> None:
        self.sel = selectors.DefaultSelector()
        self.io = io
        self.sessions = Sessions("c" * 64, _Runtime(), self.sel, io)  # type: ignore[arg-type]

    def spin(self, rounds: int = 20) -> None:
        for _ in range(rounds):
            for key, mask in self.sel.select(0.01):
                self.sessions.dispatch(key.data, mask)

    def attach(self, **options: Any) -> socket.socket:
        ours, theirs = socket.socketpair()
        socket.send_fds(ours, [json.dumps({"attach": options}).encode()], [])
        self.sessions.serve(theirs)
        reply = ours.makefile("rb").readline()
        assert json.loads(reply)["attached"] is True
        ours.settimeout(5)
        return ours


@pytest.fixture
def shim() -> Iterator[_Shim]:
    io = ContainerIO("c" * 64, tty=False, stdin_open=True)  # io.child[0]: the container's stdin
    yield _Shim(io)
    io.close()


def _read_frames(sock: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    decoder = frames.Decoder()
    got: list[tuple[bytes, bytes]] = []
    while len(got) < count:
        got += decoder.feed(sock.recv(65536))
    return got


def test_attach_replays_then_relays_output_and_input(shim: _Shim) -> None:
    shim.sessions.output("stdout", b"early\n")
    client = shim.attach(stdin=True, replay=True, stdin_once=True)
    shim.sessions.output("stderr", b"late\n")
    assert _read_frames(client, 2) == [(frames.STDOUT, b"early\n"), (frames.STDERR, b"late\n")]
    client.sendall(frames.encode(frames.STDIN, b"typed\n") + frames.encode(frames.CLOSE))
    shim.spin()
    stdin_r = shim.io.child[0]  # what the container reads
    assert os.read(stdin_r, 100) == b"typed\n"
    assert os.read(stdin_r, 100) == b""  # stdin_once: closed with the client's input
    shim.sessions.finish(7)
    assert _read_frames(client, 1) == [(frames.EXIT, b"7")]


def test_input_waits_while_the_container_does_not_read(shim: _Shim) -> None:
    client = shim.attach(stdin=True)
    chunk = b"x" * 65536
    for _ in range(3):  # more than a pipe holds
        client.sendall(frames.encode(frames.STDIN, chunk))
        shim.spin(5)
    assert shim.sessions.pending  # kept, not dropped
    stdin_r = shim.io.child[0]
    got = b""
    while len(got) < 3 * len(chunk):
        got += os.read(stdin_r, 1 << 20)
        shim.spin(2)
    assert got == chunk * 3 and not shim.sessions.pending


def test_a_client_that_stops_reading_is_dropped(shim: _Shim) -> None:
    client = shim.attach(stdin=False)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    piece = b"y" * 65536
    for _ in range(MAX_BACKLOG // len(piece) + 64):
        shim.sessions.output("stdout", piece)
        if not shim.sessions.clients:
            break
    assert shim.sessions.clients == []  # the shim never blocks on a slow client


def test_input_is_refused_without_stdin_open() -> None:
    io = ContainerIO("c" * 64, tty=False, stdin_open=False)
    try:
        sh = _Shim(io)
        client = sh.attach(stdin=True)
        client.sendall(frames.encode(frames.STDIN, b"ignored"))
        sh.spin()
        assert not sh.sessions.pending and sh.sessions.input_fd() is None
    finally:
        io.close()
