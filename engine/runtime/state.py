"""Runtime state on disk (``<root>/<id>/state.json`` + ``exec.fifo``) and the status table."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from engine.errors import Conflict, NotFound
from engine.procstat import live_start

OCI_VERSION = "1.0.2"
FIFO = "exec.fifo"
EXEC_ERROR = "exec.err"


class Status(StrEnum):
    """OCI container status."""

    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


# Which operations each status allows (runc's state_linux.go idea, as a table).
ALLOWED: dict[str, frozenset[Status]] = {
    "start": frozenset({Status.CREATED}),
    "kill": frozenset({Status.CREATED, Status.RUNNING, Status.PAUSED}),
    "pause": frozenset({Status.RUNNING}),
    "resume": frozenset({Status.PAUSED}),
    "exec": frozenset({Status.CREATED, Status.RUNNING}),
    "delete": frozenset({Status.CREATED, Status.STOPPED}),
}


def check_allowed(op: str, status: Status, cid: str) -> None:
    """Raise Conflict when ``op`` is not allowed in ``status``."""
    if status not in ALLOWED[op]:
        raise Conflict(f"container is {status.value}", step=op, obj=cid)


@dataclass(slots=True)
class RuntimeState:
    """What the runtime remembers about one container."""

    id: str
    pid: int
    bundle: str
    rootfs: str
    cgroup_path: str
    created: float
    pid_start_time: int
    annotations: dict[str, str] = field(default_factory=dict)
    namespaces: list[list[Any]] = field(default_factory=list)

    def save(self, state_dir: Path) -> None:
        """Write state.json atomically."""
        tmp = state_dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self)))
        os.replace(tmp, state_dir / "state.json")

    @classmethod
    def load(cls, state_dir: Path, cid: str) -> RuntimeState:
        """Read state.json or raise NotFound."""
        try:
            data = json.loads((state_dir / "state.json").read_text())
        except FileNotFoundError as e:
            raise NotFound("no such container", step="state", obj=cid) from e
        return cls(**data)


def is_alive(st: RuntimeState) -> bool:
    """True when the container init still runs (same pid AND same start time: no pid reuse)."""
    return st.pid > 0 and live_start(st.pid) == st.pid_start_time
