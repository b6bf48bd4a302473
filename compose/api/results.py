"""Values the API returns: results of commands and rows of ``ps``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What a command run in a container (``exec``, ``run``) produced."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.returncode == 0


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    """One container of the project, as ``ps`` shows it."""

    service: str
    name: str
    id: str
    number: int
    state: str  # created | running | paused | restarting | exited | dead
    health: str | None  # None (no healthcheck) | "starting" | "healthy" | "unhealthy"
    exit_code: int | None  # set once the container has exited

    @property
    def running(self) -> bool:
        """True while the container runs (also paused or restarting)."""
        return self.state in ("running", "paused", "restarting")


class PortAddress(NamedTuple):
    """A published port: where to connect from the host. A tuple, so it unpacks as
    ``host, port = project.port("web", 80)``."""

    host: str
    port: int
