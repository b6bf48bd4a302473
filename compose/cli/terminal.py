"""The one module that writes to the terminal: plain text, tables, colours, errors.

Commands never call print(); they go through these helpers so the tty/colour decision and
broken-pipe handling live in one place. Logging goes to stderr through :func:`setup_logging`.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import ModuleType

from engine.lazy import OnFirstUse

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any, TextIO

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


def setup_logging(verbose: bool) -> None:
    """Log warnings (everything with ``-v``) to stderr, one line each. A command that logs
    nothing does not load ``logging`` (with ``threading``, ``weakref`` and ``string``, ~2.8 ms
    of a `config` run in-process): until something imports it, this is done as that import
    ends (:class:`_WhenLoggingLoads`)."""
    logging = sys.modules.get("logging")
    if logging is not None:
        _configure(logging, verbose, sys.stderr)
        return
    for finder in sys.meta_path:
        if isinstance(finder, _WhenLoggingLoads):
            finder.verbose, finder.stream = verbose, sys.stderr
            return
    sys.meta_path.insert(0, _WhenLoggingLoads(verbose, sys.stderr))


class _WhenLoggingLoads:
    """In ``sys.meta_path`` until ``logging`` has been imported: it has the other finders
    find it, and its loader run with a stand-in for ``traceback`` (formatting an exception
    needs it; it loads ``linecache``, ``tokenize``, ``textwrap``: ~2.5 ms), then configures it
    as :func:`setup_logging` was asked."""

    def __init__(self, verbose: bool, stream: TextIO) -> None:
        self.verbose = verbose
        self.stream = stream

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "logging":
            return None
        for finder in sys.meta_path:
            find = None if finder is self else getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None and spec.loader is not None:
                spec.loader = _ConfiguringLoader(spec.loader, self)
                return spec
        return None


class _ConfiguringLoader:
    """``logging``'s own loader, configuring the module once it has run."""

    def __init__(self, loader: Any, finder: _WhenLoggingLoads) -> None:
        self.loader = loader
        self.finder = finder

    def __getattr__(self, attr: str) -> Any:  # get_source, is_package... as the loader has
        return getattr(self.loader, attr)

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        stand_in = None
        if "traceback" not in sys.modules:
            stand_in = sys.modules["traceback"] = OnFirstUse("traceback", "logging")
        try:
            self.loader.exec_module(module)
        finally:
            if stand_in is not None and sys.modules.get("traceback") is stand_in:
                del sys.modules["traceback"]
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        _configure(module, self.finder.verbose, self.finder.stream)


def _configure(logging: Any, verbose: bool, stream: TextIO) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_formatter(logging))
    handler.set_name("pycompose")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "pycompose"]:
        root.removeHandler(old)  # a second run in the same process (tests) replaces ours only
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)


def _formatter(logging: Any) -> Any:
    """A ``logging.Formatter`` writing ``LEVEL message`` (WARN in yellow on a tty)."""

    class Formatter(logging.Formatter):  # type: ignore[name-defined,misc]
        def format(self, record: Any) -> str:
            level = {"WARNING": "WARN"}.get(record.levelname, record.levelname)
            colour = "yellow" if record.levelno >= logging.WARNING else "dim"
            prefix = paint(level, "red" if record.levelno >= logging.ERROR else colour,
                           sys.stderr)
            text = f"{prefix} {record.getMessage()}"
            if record.exc_info:
                text += "\n" + self.formatException(record.exc_info)
            return text

    return Formatter()
