"""The framed byte stream between a client and a container's shim after a request was accepted.

A frame is one kind byte, a 4-byte big-endian length and the payload. Client → shim:
``i`` stdin bytes, ``c`` stdin closed, ``w`` window size (``b"ROWS COLS"``), ``s`` a signal
(``b"N"``). Shim → client: ``o`` stdout bytes, ``e`` stderr bytes, ``x`` the exit code
(``b"N"``). Exec clients send only ``s`` (the shim signals the exec'd process group).
"""
from __future__ import annotations

import struct
from collections.abc import Iterator

STDIN, CLOSE, WINSIZE, SIGNAL = b"i", b"c", b"w", b"s"
STDOUT, STDERR, EXIT = b"o", b"e", b"x"
_HEADER = struct.Struct(">cI")
MAX_PAYLOAD = 1 << 20


def encode(kind: bytes, payload: bytes = b"") -> bytes:
    """One frame."""
    return _HEADER.pack(kind, len(payload)) + payload


class Decoder:
    """Splits a byte stream into (kind, payload) frames; keeps a partial frame for later."""

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Yield every complete frame in what was received so far."""
        self.buffer += data
        while len(self.buffer) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self.buffer)
            if size > MAX_PAYLOAD:
                raise ValueError(f"frame of {size} bytes is too large")
            end = _HEADER.size + size
            if len(self.buffer) < end:
                return
            payload, self.buffer = self.buffer[_HEADER.size:end], self.buffer[end:]
            yield kind, payload


def parse_winsize(payload: bytes) -> tuple[int, int]:
    """``b"ROWS COLS"`` → (rows, cols), each within 1..65535."""
    rows, cols = (int(x) for x in payload.split())
    if not (0 < rows < 65536 and 0 < cols < 65536):
        raise ValueError(f"bad window size {rows}x{cols}")
    return rows, cols
