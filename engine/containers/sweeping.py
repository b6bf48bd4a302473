"""Clean up after crashes: whatever a SIGKILLed CLI, supervisor or shim left behind.

Every kernel object of a container is named from its id (``<state root>/containers/<id>/bundle/
rootfs`` mount, cgroup ``pycompose/<id>``, runtime state under ``<state root>/runtime``), so the
sweep needs no record of what was created: rows stuck in ``removing``/``dead`` are removed again,
and objects whose id has no row at all are torn down.
"""
from __future__ import annotations

import logging
import shutil

from engine.containers import lifecycle, paths, record, rootfs
from engine.containers.runtimes import get_runtime, runtime_knows
from engine.containers.spec import State
from engine.errors import EngineError
from engine.naming import CGROUP_PARENT
from engine.paths import state_root

log = logging.getLogger(__name__)


def sweep() -> list[str]:
    """Reconcile every row, finish interrupted removals, remove objects without a row.
    Returns the ids that were cleaned up."""
    cleaned = []
    known = set()
    for info in record.all_rows():
        known.add(info.id)
        if info.state in (State.REMOVING, State.DEAD):
            lifecycle.delete(info.id, force=True)
            cleaned.append(info.id)
        else:
            lifecycle.refresh(info.id)
    for cid in _ids_on_disk() | _ids_in_cgroups():
        if cid not in known:
            _remove_orphan(cid)
            cleaned.append(cid)
    return cleaned


def _ids_on_disk() -> set[str]:
    base = state_root() / "containers"
    return {p.name for p in base.iterdir() if p.is_dir()} if base.is_dir() else set()


def _ids_in_cgroups() -> set[str]:
    from engine.cgroups import list_paths

    prefix = CGROUP_PARENT + "/"
    return {p[len(prefix):] for p in list_paths(CGROUP_PARENT)
            if p.startswith(prefix) and "/" not in p[len(prefix):] and _owned(p[len(prefix):])}


def _owned(cid: str) -> bool:
    """Only ids with a container dir or runtime state under this state root are ours."""
    return paths.container_dir(cid).exists() or bool(_runtimes_knowing(cid))


def _runtimes_knowing(cid: str) -> list[str]:
    return [name for name in ("builtin", "runc", "crun") if runtime_knows(name, cid)]


def _remove_orphan(cid: str) -> None:
    log.info("sweeping leftovers of container %s", cid[:12])
    for name in _runtimes_knowing(cid):
        try:
            get_runtime(name).delete(cid, force=True)
        except EngineError as exc:
            log.warning("runtime %s delete %s: %s", name, cid[:12], exc)
    lifecycle.remove_cgroup(cid)
    rootfs.unmount(paths.rootfs_dir(cid))
    shutil.rmtree(paths.container_dir(cid), ignore_errors=True)
