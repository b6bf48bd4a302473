"""One project-wide lock: two ``up``/``down`` runs on the same project at once would plan
against the same observed state and race to create the same containers; the second waits."""
from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from engine.paths import ensure_dir, state_root

log = logging.getLogger(__name__)


@contextmanager
def project_lock(project: str) -> Iterator[None]:
    """Hold the project's lock (an flock, so a killed holder releases it at once)."""
    path = ensure_dir(state_root() / "run", 0o700) / f"project-{project}.lock"
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("another pycompose command is changing project %s; waiting", project)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield
