"""cgroups for rootless mode: a delegated v2 subtree when the host gives one, else none.

Without a delegated subtree (cgroup v1 hosts, or v2 without systemd's user delegation) a user
cannot create cgroups: containers run without one, asked-for limits are not enforced, and the
caller (the orchestrator) warns once per service and key — never silently.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from engine.cgroups.base import CgroupDriver, CgroupStats
from engine.cgroups.delegation import own_cgroup, owned
from engine.errors import MissingPrivilege

log = logging.getLogger(__name__)

NO_CGROUP = ("no cgroup was delegated to this user (cgroup v1 host, or cgroup v2 without a "
             "delegated subtree)")


def delegated_subtree(mount: Path, proc_self_cgroup: str | None = None) -> Path | None:
    """The highest ancestor of our own v2 cgroup that this user owns (None if none is)."""
    if not (mount / "cgroup.controllers").exists():
        return None
    if proc_self_cgroup is None:
        try:
            proc_self_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return None
    uid = os.geteuid()
    parts = [p for p in own_cgroup(proc_self_cgroup).split("/") if p and p != ".."]
    for depth in range(1, len(parts) + 1):
        candidate = mount.joinpath(*parts[:depth])
        if owned(candidate, uid):
            return candidate
    return None


def rootless_driver(mount: Path) -> CgroupDriver:
    """V2Driver on a delegated subtree, else the NullDriver."""
    subtree = delegated_subtree(mount)
    if subtree is None:
        return NullDriver()
    from engine.cgroups.v2 import V2Driver

    return V2Driver(subtree)


def limits_enforced(mount: Path = Path("/sys/fs/cgroup")) -> bool:
    """True when cgroup limits apply (always as root; rootless only with a delegated tree)."""
    from engine.rootless import detect

    return not detect.rootless() or delegated_subtree(mount) is not None


class NullDriver:
    """No cgroup at all: nothing to create, track, freeze or limit."""

    version = 0

    def create(self, path: str, resources: dict[str, Any]) -> None:
        """Nothing to create; limits were warned about by the caller."""
        if resources:
            log.info("%s: limits not enforced: %s", path, NO_CGROUP)

    def update(self, path: str, resources: dict[str, Any]) -> None:
        """Changing limits needs a cgroup."""
        raise MissingPrivilege(f"cannot update limits: {NO_CGROUP}", step="update", obj=path)

    def add_process(self, path: str, pid: int) -> None:
        """Nothing to join."""

    def join_self(self, path: str, *, v2: bool = True) -> None:
        """Nothing to join."""

    def v2_dir(self, path: str) -> Path | None:
        """No cgroup."""
        return None

    def freeze(self, path: str) -> None:
        """Freezing needs the freezer cgroup."""
        raise MissingPrivilege(f"cannot pause: {NO_CGROUP}", step="pause", obj=path)

    def thaw(self, path: str) -> None:
        """Never frozen."""

    def is_frozen(self, path: str) -> bool:
        """Never frozen."""
        return False

    def kill_all(self, path: str, sig: int) -> None:
        """No cgroup to signal: the runtime signals the init (its pid namespace dies with it)."""

    def pids(self, path: str) -> list[int]:
        """Without a cgroup: the container's init and every process in its pid namespace."""
        return members(path.rstrip("/").rsplit("/", 1)[-1])

    def stats(self, path: str) -> CgroupStats:
        """No accounting without a cgroup."""
        return CgroupStats(0, 0, 0, 0, 0)

    def oom_killed(self, path: str) -> bool:
        """No OOM events without a memory cgroup."""
        return False

    def exists(self, path: str) -> bool:
        """No cgroup ever exists."""
        return False

    def delete(self, path: str) -> None:
        """Nothing to delete."""

    def prune(self, path: str) -> None:
        """Nothing to remove."""

    def list_paths(self, prefix: str) -> list[str]:
        """None."""
        return []


def members(cid: str) -> list[int]:
    """Host pids in the pid namespace of the container's init (from the runtime's state)."""
    import json

    from engine.paths import state_root

    try:
        state = json.loads((state_root() / "runtime" / cid / "state.json").read_text())
        init = int(state["pid"])
        ns = os.stat(f"/proc/{init}/ns/pid").st_ino
    except (OSError, ValueError, KeyError, TypeError):
        return []
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(f"/proc/{entry.name}/ns/pid").st_ino == ns:
                    found.append(int(entry.name))
            except OSError:
                continue
    return sorted(found)
