"""Error root for the engine.

Every engine error names the step that failed and the object it failed on, e.g.
``create network: myproj_default: subnet 172.30.0.0/16 overlaps route on eth0``.
"""
from __future__ import annotations


class EngineError(Exception):
    """An engine operation failed; carries the failing step and object."""

    def __init__(self, message: str, *, step: str | None = None, obj: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.step = step
        self.obj = obj

    def __str__(self) -> str:
        prefix = ": ".join(p for p in (self.step, self.obj) if p)
        return f"{prefix}: {self.message}" if prefix else self.message


class LogsNotSupported(EngineError):
    """The container's log driver keeps nothing to read back (``none``), like docker's."""


class NotFound(EngineError):
    """The named engine object does not exist."""


class Conflict(EngineError):
    """The object exists already, or is in a state that forbids the operation."""


class MissingPrivilege(EngineError):
    """A capability or kernel feature the operation needs is not available."""
