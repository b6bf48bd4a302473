"""Container output as timestamped JSON lines (``<container dir>/log.jsonl``): written by the
shim as the container prints, readable (and followable) by any process while it runs."""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from engine.containers.spec import LogLine
from engine.fdwait import readable

MAX_LINE = 16 * 1024  # docker splits longer lines too


def timestamp(ns: int | None = None) -> str:
    """RFC 3339 UTC with nanoseconds."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


class LineWriter:
    """Splits one stream's bytes into lines and appends them as JSON to the log file."""

    def __init__(self, fd: int, stream: str) -> None:
        self.fd = fd
        self.stream = stream
        self.pending = b""

    def feed(self, data: bytes) -> None:
        """Add bytes; write every complete line (or overlong piece)."""
        self.pending += data
        out = []
        while True:
            cut = self.pending.find(b"\n", 0, MAX_LINE)
            if cut < 0 and len(self.pending) < MAX_LINE:
                break
            end = cut + 1 if cut >= 0 else MAX_LINE
            out.append(self._encode(self.pending[:end]))
            self.pending = self.pending[end:]
        self._write(out)

    def flush(self) -> None:
        """Write a trailing partial line (at EOF)."""
        if self.pending:
            self._write([self._encode(self.pending)])
            self.pending = b""

    def _encode(self, raw: bytes) -> bytes:
        record = {"time": timestamp(), "stream": self.stream,
                  "log": raw.decode(errors="replace")}
        return json.dumps(record, ensure_ascii=False).encode() + b"\n"

    def _write(self, lines: list[bytes]) -> None:
        if lines:
            os.write(self.fd, b"".join(lines))  # O_APPEND: one write per batch stays whole


_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")


def normalize_since(value: str | float | datetime | None, now_ns: int | None = None) -> str | None:
    """docker's ``--since`` forms → an RFC 3339 UTC timestamp comparable with log lines:
    RFC 3339 / ISO 8601 text, a unix timestamp (``1700000000.5``), a relative duration
    (``10m``, ``1h30m``), a float or a datetime."""
    if value is None or value == "":
        return None
    now_ns = time.time_ns() if now_ns is None else now_ns
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return timestamp(int(stamp.timestamp() * 1e9))
    if isinstance(value, (int, float)):
        return timestamp(int(value * 1e9))
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timestamp(int(float(text) * 1e9))
    if _DURATION.fullmatch(text) or re.fullmatch(r"(\d+(\.\d+)?(ns|us|ms|s|m|h))+", text):
        seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION.findall(text))
        return timestamp(now_ns - int(seconds * 1e9))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"invalid --since value {value!r}") from None
    return normalize_since(parsed)


def parse(line: str) -> LogLine | None:
    """One JSON line → LogLine (text without its newline); None for a torn line."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return LogLine(rec["time"], rec["stream"], rec["log"].removesuffix("\n"))


def read(path: Path, *, since: str | None = None, tail: int | None = None,
         follow: bool = False, alive: Callable[[], bool] | None = None,
         exit_fd: int | None = None) -> Iterator[LogLine]:
    """Yield log lines; with ``follow``, keep yielding new ones while ``alive()`` is true.

    ``since`` is an RFC 3339 UTC timestamp (lines at or after it); ``tail`` keeps the last N.
    Following sleeps on inotify (a write) and on ``exit_fd`` (the writer's pidfd: it exited).
    """
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with f, (_FileWatch(path) if follow else contextlib.nullcontext()) as watch:
        yield from _select(f.readlines(), since, tail)
        if watch is None:
            return
        partial = ""
        while True:
            chunk = f.readline()
            if chunk:
                partial += chunk
                if partial.endswith("\n"):
                    parsed = parse(partial)
                    partial = ""
                    if parsed and (since is None or parsed.time >= since):
                        yield parsed
                continue
            if alive is not None and not alive():
                yield from _select((partial + f.read()).splitlines(), since, None)
                return
            watch.wait(_SAFETY_TIMEOUT, exit_fd)


_SAFETY_TIMEOUT = 1.0  # re-check liveness now and then even if an event was missed
_IN_MODIFY = 0x2
_IN_CLOSE_WRITE = 0x8
_IN_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000


class _FileWatch:
    """inotify on one file: wakes on writes and on a writer closing it."""

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(_IN_NONBLOCK_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(self.fd, str(path).encode(), _IN_MODIFY | _IN_CLOSE_WRITE) < 0:
            os.close(self.fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path}")

    def __enter__(self) -> _FileWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def wait(self, timeout: float, exit_fd: int | None = None) -> None:
        """Block until the file changes, ``exit_fd`` is readable or ``timeout``; drain."""
        readable([self.fd] + ([] if exit_fd is None else [exit_fd]), timeout)
        try:
            while os.read(self.fd, 4096):
                pass
        except BlockingIOError:
            pass


def _select(lines: list[str], since: str | None, tail: int | None) -> list[LogLine]:
    parsed = [p for p in map(parse, lines) if p and (since is None or p.time >= since)]
    if tail is not None:
        return list(deque(parsed, maxlen=tail)) if tail > 0 else []
    return parsed
