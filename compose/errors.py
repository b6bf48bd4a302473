"""Error root for everything on the compose side.

Errors carry where the mistake is (file, line, column, key path) so the CLI can print one
sentence a user can act on. Only the CLI turns them into exit codes.
"""
from __future__ import annotations


class ComposeError(Exception):
    """A user-facing compose error with optional location context."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        key_path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.key_path = key_path

    def location(self) -> str:
        """Return ``file:line:column`` (as much as is known), or an empty string."""
        parts = [p for p in (self.file, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def __str__(self) -> str:
        where = self.location()
        # Messages that already start with "<key path>:" need no trailing repeat of it.
        named = self.key_path and not self.message.startswith(f"{self.key_path}:")
        key = f" ({self.key_path})" if named else ""
        return f"{where}: {self.message}{key}" if where else f"{self.message}{key}"


class ConfigError(ComposeError):
    """A compose file could not be loaded: syntax, schema, interpolation, references."""

    # (docker compose exits 1; it exited 15 before 2.33, when exit codes named error kinds)


class GraphError(ComposeError):
    """The service dependency graph is invalid (cycle, unknown dependency)."""
