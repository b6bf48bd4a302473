"""``attach``: join a running container's main process through its shim (docker attach).

The client asks ``shim.sock`` for an attach (see :mod:`engine.containers.sessions`), then relays:
the container's output to ``stdout``/``stderr``, ``stdin`` to the container (when it was created
with ``stdin_open``), the caller's window size (tty containers, at the start and on SIGWINCH),
and with ``sig_proxy`` (containers without a tty) the signals this process receives. The detach
key sequence (docker's default ctrl-p,ctrl-q) leaves the container running.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import socket
from dataclasses import dataclass

from engine.containers import frames, paths, record, terminal
from engine.containers.lifecycle import refresh
from engine.containers.spec import State
from engine.errors import Conflict, EngineError

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
DETACHED = -1  # what :func:`attach` returns when the detach keys were typed
SHIM_GONE = -2  # ... when the connection ended without an exit code (ask the record)
_CTRL_SPECIAL = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


@dataclass(frozen=True, slots=True)
class AttachOptions:
    """What an attach relays. ``stdin`` None: no input; ``replay``: first the output since
    the start (``run``); ``stdin_once``: the container's stdin closes when ours ends."""

    stdin: int | None = 0
    stdout: int = 1
    stderr: int = 2
    sig_proxy: bool = True
    detach_keys: bytes = b"\x10\x11"
    replay: bool = False
    stdin_once: bool = False


def parse_detach_keys(spec: str) -> bytes:
    """docker's ``--detach-keys``: comma-separated ``ctrl-<x>`` or single characters."""
    out = bytearray()
    for part in (spec or DEFAULT_DETACH_KEYS).split(","):
        key = part.strip().lower()
        if len(key) == 1:
            out.append(ord(key))
        elif key.startswith("ctrl-") and len(key) == 6:
            out.append(_ctrl(key[5]))
        else:
            raise ValueError(f"invalid detach keys {spec!r}: {part!r} is neither a character "
                             "nor ctrl-<key>")
    return bytes(out)


def _ctrl(ch: str) -> int:
    if "a" <= ch <= "z":
        return ord(ch) - ord("a") + 1
    if ch in _CTRL_SPECIAL:
        return _CTRL_SPECIAL[ch]
    raise ValueError(f"invalid detach key ctrl-{ch}")


class DetachMatcher:
    """Holds back input bytes that may start the detach sequence; says when it is complete."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """(bytes to forward, detach?) for the next input chunk."""
        out = bytearray()
        for byte in data:
            if not self.keys:
                out.append(byte)
            elif byte == self.keys[len(self.held)]:
                self.held += bytes([byte])
                if self.held == self.keys:
                    self.held = b""
                    return bytes(out), True
            else:
                out += self.held
                self.held = b""
                if byte == self.keys[0]:
                    self.held = bytes([byte])
                else:
                    out.append(byte)
        return bytes(out), False


def attach(ref: str, options: AttachOptions) -> int:
    """Relay until the container exits (its exit code), the detach keys are typed
    (``DETACHED``) or the shim is gone without a word (``SHIM_GONE``)."""
    cid = record.get(ref).id
    info = refresh(cid)
    if info.state is not State.RUNNING:
        raise Conflict(f"cannot attach to a {info.state.value} container, start it first",
                       step="attach", obj=info.name)
    sock = _connect(cid, info.name, options)
    with sock:
        try:
            reply = _read_line(sock)
        except ConnectionResetError:  # the shim ended with this connection still queued
            raise Conflict("container is not running", step="attach", obj=info.name) from None
        if not reply.get("attached"):
            raise EngineError(str(reply.get("error", "attach refused")), step="attach",
                              obj=info.name)
        return _Relay(sock, options, bool(reply["tty"]), bool(reply["stdin"])).run()


def _connect(cid: str, name: str, options: AttachOptions) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with paths.short_socket_path(cid) as address:
            sock.connect(address)
        request = {"attach": {"stdin": options.stdin is not None, "replay": options.replay,
                              "stdin_once": options.stdin_once}}
        socket.send_fds(sock, [json.dumps(request).encode()], [])
    except (FileNotFoundError, ConnectionRefusedError, ConnectionResetError, BrokenPipeError):
        sock.close()
        raise Conflict("container is not running", step="attach", obj=name) from None
    return sock


def _read_line(sock: socket.socket) -> dict[str, object]:
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    reply: dict[str, object] = json.loads(line or b'{"error": "the shim went away"}')
    return reply


class _Relay:
    def __init__(self, sock: socket.socket, options: AttachOptions, tty: bool,
                 stdin: bool) -> None:
        self.sock = sock
        self.options = options
        self.tty = tty
        self.stdin = options.stdin if stdin else None
        self.matcher = DetachMatcher(options.detach_keys)
        self.decoder = frames.Decoder()
        self.sel = selectors.PollSelector()  # poll, not epoll: stdin may be a file or /dev/null

    def run(self) -> int:
        proxied = terminal.PROXIED if self.options.sig_proxy and not self.tty else ()
        watched = (*proxied, signal.SIGWINCH) if self.tty else proxied
        raw_fd = self.stdin if self.tty else None
        with terminal.raw(raw_fd), terminal.forwarded_signals(bool(watched),
                                                              watched) as queue:
            self.sel.register(self.sock, selectors.EVENT_READ, "sock")
            if self.stdin is not None:
                self.sel.register(self.stdin, selectors.EVENT_READ, "stdin")
            if queue.fd >= 0:
                self.sel.register(queue.fd, selectors.EVENT_READ, "signals")
            self._send_size()
            return self._loop(queue)

    def _loop(self, queue: terminal.SignalQueue) -> int:
        while True:
            for key, _ in self.sel.select():
                if key.data == "sock":
                    code = self._from_shim()
                elif key.data == "stdin":
                    code = self._from_stdin()
                else:
                    self._signals(queue)
                    code = None
                if code is not None:
                    return code

    def _from_shim(self) -> int | None:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            return SHIM_GONE
        for kind, payload in self.decoder.feed(data):
            if kind == frames.EXIT:
                return int(payload)
            fd = self.options.stderr if kind == frames.STDERR else self.options.stdout
            _write_all(fd, payload)
        return None

    def _from_stdin(self) -> int | None:
        assert self.stdin is not None
        data = os.read(self.stdin, 65536)
        if not data:
            self.sel.unregister(self.stdin)
            self.sock.sendall(frames.encode(frames.CLOSE))
            return None
        forward, detach = self.matcher.feed(data)
        if forward:
            self.sock.sendall(frames.encode(frames.STDIN, forward))
        return DETACHED if detach else None

    def _signals(self, queue: terminal.SignalQueue) -> None:
        for sig in queue.take():
            if sig == signal.SIGWINCH:
                self._send_size()
            else:
                self.sock.sendall(frames.encode(frames.SIGNAL, str(int(sig)).encode()))

    def _send_size(self) -> None:
        if not self.tty:
            return
        size = terminal.window_size(self.options.stdout)
        if size is None and self.stdin is not None:
            size = terminal.window_size(self.stdin)
        if size is not None:
            self.sock.sendall(frames.encode(frames.WINSIZE, f"{size[0]} {size[1]}".encode()))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
