"""The one module that writes to the terminal: plain text, tables, colours, errors.

Commands never call print(); they go through these helpers so the tty/colour decision and
broken-pipe handling live in one place. Logging goes to stderr through :func:`setup_logging`.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from engine.lazy import import_sparing

# logging formats an exception with traceback (which loads linecache, tokenize, textwrap:
# ~2.5 ms); a command that logs none need not load it
import_sparing("logging", ("traceback",))
import logging  # noqa: E402

_ANSI = {"auto": None, "never": False, "always": True}
_COLOURS = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "bold": "1", "dim": "2"}
_state: dict[str, bool | None] = {"ansi": None}


def configure(ansi: str = "auto") -> None:
    """Set the colour policy: ``auto`` (colour on a tty unless NO_COLOR), ``never``,
    ``always``."""
    _state["ansi"] = _ANSI.get(ansi)


def use_colour(stream: TextIO | None = None) -> bool:
    """Whether to colour output written to ``stream`` (stdout by default)."""
    forced = _state["ansi"]
    if forced is not None:
        return forced
    stream = stream or sys.stdout
    return not os.environ.get("NO_COLOR") and hasattr(stream, "isatty") and stream.isatty()


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    """``text`` wrapped in an ANSI colour when colouring is on."""
    if not use_colour(stream):
        return text
    return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m"


def write(text: str) -> None:
    """Write ``text`` to stdout as is (no newline added)."""
    sys.stdout.write(text)
    sys.stdout.flush()


def line(text: str = "") -> None:
    """Write one line to stdout."""
    write(text + "\n")


def status(text: str) -> None:
    """Write one progress line to stderr (where docker compose writes its progress)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def error(text: str) -> None:
    """Write one error line to stderr (red on a tty)."""
    sys.stderr.write(paint(text, "red", sys.stderr) + "\n")
    sys.stderr.flush()


def warn(text: str) -> None:
    """Write one warning line to stderr."""
    sys.stderr.write(paint("WARN", "yellow", sys.stderr) + " " + text + "\n")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned, space-padded text table like docker's (3 spaces between columns)."""
    cells = [list(headers)] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in cells]
    return "\n".join(lines) + "\n"


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = {"WARNING": "WARN"}.get(record.levelname, record.levelname)
        colour = "yellow" if record.levelno >= logging.WARNING else "dim"
        prefix = paint(level, "red" if record.levelno >= logging.ERROR else colour, sys.stderr)
        text = f"{prefix} {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def setup_logging(verbose: bool) -> None:
    """Log warnings (everything with ``-v``) to stderr, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.set_name("pycompose")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "pycompose"]:
        root.removeHandler(old)  # a second run in the same process (tests) replaces ours only
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
