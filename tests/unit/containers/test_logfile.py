"""Log lines: splitting, timestamps, reading back with tail and since."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.containers import logfile

_opened: list[int] = []


@pytest.fixture(autouse=True)
def _close_writers() -> Iterator[None]:
    yield
    while _opened:
        os.close(_opened.pop())


def _writer(path: Path, stream: str = "stdout") -> logfile.LineWriter:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    _opened.append(fd)
    return logfile.LineWriter(fd, stream)


def test_lines_split_buffered_and_flushed(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    out, err = _writer(path), _writer(path, "stderr")
    out.feed(b"one\ntw")
    err.feed(b"oops\n")
    out.feed(b"o\nthree")
    assert [(ln.stream, ln.text) for ln in logfile.read(path)] == [
        ("stdout", "one"), ("stderr", "oops"), ("stdout", "two")]
    out.flush()
    lines = list(logfile.read(path))
    assert lines[-1].text == "three"
    assert all(ln.time.endswith("Z") and len(ln.time) == 30 for ln in lines)
    assert [ln.text for ln in logfile.read(path, tail=2)] == ["two", "three"]
    assert list(logfile.read(path, tail=0)) == []
    assert [ln.text for ln in logfile.read(path, since=lines[2].time)] == ["two", "three"]


def test_long_lines_are_split_and_bad_bytes_replaced(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    w = _writer(path)
    w.feed(b"x" * (logfile.MAX_LINE + 10) + b"\n" + b"\xff\n")
    texts = [ln.text for ln in logfile.read(path)]
    assert [len(t) for t in texts[:2]] == [logfile.MAX_LINE, 10]
    assert texts[2] == "\ufffd"


def test_follow_stops_when_the_writer_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    w = _writer(path)
    w.feed(b"a\n")
    calls = iter([True, False])
    it = logfile.read(path, follow=True, alive=lambda: next(calls, False))
    assert next(it).text == "a"
    w.feed(b"b\n")
    assert [ln.text for ln in it] == ["b"]


def test_timestamp_format() -> None:
    assert logfile.timestamp(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert list(logfile.read(tmp_path / "none")) == []


def test_since_accepts_dockers_forms() -> None:
    from datetime import UTC, datetime

    import pytest

    now = 1_700_000_000 * 10**9
    assert logfile.normalize_since(None) is None
    assert logfile.normalize_since("1700000000") == "2023-11-14T22:13:20.000000000Z"
    assert logfile.normalize_since(1700000000.5) == "2023-11-14T22:13:20.500000000Z"
    assert logfile.normalize_since("10m", now) == "2023-11-14T22:03:20.000000000Z"
    assert logfile.normalize_since("1h30m", now) == "2023-11-14T20:43:20.000000000Z"
    assert logfile.normalize_since("2023-11-14T22:13:20Z") == "2023-11-14T22:13:20.000000000Z"
    assert logfile.normalize_since(datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)) == \
        "2023-11-14T22:13:20.000000000Z"
    with pytest.raises(ValueError, match="since"):
        logfile.normalize_since("yesterday")
