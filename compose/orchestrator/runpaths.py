"""Where a project's supervisor keeps its socket, pid file and log (``<state root>/run/``).

Apart from :mod:`.daemon` so that the CLI can find and start a supervisor without importing
the supervisor itself.
"""
from __future__ import annotations

from pathlib import Path

from engine.paths import state_root
from engine.unixaddr import short_name


def run_dir() -> Path:
    """Where sockets, pid files and supervisor logs live."""
    return state_root() / "run"


def socket_path(project: str) -> Path:
    return run_dir() / short_name("project-", project, ".sock")


def pid_path(project: str) -> Path:
    return run_dir() / f"project-{project}.pid"


def log_path(project: str) -> Path:
    """The supervisor's log: its own records, and its standard error (a failure before its
    logging is set up)."""
    return run_dir() / f"project-{project}.log"
