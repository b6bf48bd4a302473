"""Errors of the Dockerfile builder; they name the Dockerfile line."""
from __future__ import annotations

from engine.errors import EngineError


class BuildError(EngineError):
    """A Dockerfile is invalid or one of its steps failed."""

    def __init__(self, message: str, *, line: int | None = None, file: str = "Dockerfile",
                 step: str | None = None) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(message, step=step or "build", obj=where)
        self.line = line
        self.file = file
