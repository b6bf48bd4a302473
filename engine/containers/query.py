"""Listing containers: a read of the store plus a liveness check of each active row.

Kept apart from :mod:`.lifecycle` so that listing (``ps``, ``ls``, convergence) imports only
the record, not the shim, runtimes and bundle writer; only a row whose shim and init are both
gone goes through :func:`engine.containers.lifecycle.refresh`, which repairs it under the lock.
"""
from __future__ import annotations

from engine.containers import procinfo, record
from engine.containers.spec import ContainerInfo, State

ACTIVE = (State.RUNNING, State.PAUSED)


def not_lost(info: ContainerInfo) -> bool:
    """True unless the row says running/paused while its shim and init are both gone."""
    if info.state not in ACTIVE:
        return True
    row = record.raw(info.id)
    if procinfo.alive(row["shim_pid"], row["shim_start"]):
        return True
    # the shim died but the container may still run (no exit code will be known then)
    return procinfo.alive(row["pid"], row["pid_start"])


def list_containers(labels: dict[str, str] | None = None, all: bool = True
                    ) -> list[ContainerInfo]:
    """Containers whose labels include ``labels``; only running/paused ones unless ``all``."""
    out = []
    for info in record.all_rows():
        if labels and any(info.labels.get(k) != v for k, v in labels.items()):
            continue
        if not not_lost(info):
            from engine.containers.lifecycle import refresh

            info = refresh(info.id)
        if all or info.state in (*ACTIVE, State.RESTARTING):
            out.append(info)
    return out
