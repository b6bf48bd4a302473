"""cgroup v2 (unified hierarchy) driver, as on modern distributions.

Controllers are enabled top-down through ``cgroup.subtree_control`` of every ancestor; limits map
from OCI v1-style values (shares -> weight, quota/period -> cpu.max, swap = memory+swap ->
memory.swap.max = swap - limit).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from engine.cgroups import fs
from engine.cgroups.base import CgroupStats, Resources, clean_path, wait_until, walk_paths

log = logging.getLogger(__name__)

WANTED = ("cpu", "cpuset", "memory", "pids")
DEFAULT_PERIOD = 100000


def shares_to_weight(shares: int) -> int:
    """Map cpu.shares (2..262144) linearly onto cpu.weight (1..10000)."""
    if shares <= 0:
        return 100
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


class V2Driver:
    """cgroup v2 driver rooted at a unified mount (default /sys/fs/cgroup)."""

    version = 2

    def __init__(self, root: Path = Path("/sys/fs/cgroup")) -> None:
        self.root = root

    def _dir(self, path: str) -> Path:
        return self.root / clean_path(path)

    def create(self, path: str, resources: dict[str, Any]) -> None:
        """Create the cgroup, enable controllers on its ancestors, apply resources."""
        d = self._dir(path)
        self._enable_controllers(d.parent)
        fs.make_dir(d)
        self.apply(path, Resources.from_oci(resources))

    def _enable_controllers(self, parent: Path) -> None:
        chain = [parent, *parent.parents]
        chain = chain[: chain.index(self.root) + 1]
        for level in reversed(chain):
            fs.make_dir(level) if level != self.root else None
            available = set(fs.read_value(level / "cgroup.controllers").split())
            enabled = set(fs.read_value(level / "cgroup.subtree_control").split())
            missing = [c for c in WANTED if c in available and c not in enabled]
            if missing:
                fs.write_value(level / "cgroup.subtree_control", " ".join("+" + c for c in missing))

    def apply(self, path: str, r: Resources) -> None:
        """Write resource limits (only those set) in v2 terms."""
        d = self._dir(path)
        if r.memory_limit is not None:
            fs.write_value(d / "memory.max", _limit(r.memory_limit))
        if r.memory_reservation is not None:
            fs.write_value(d / "memory.low", _limit(r.memory_reservation))
        if r.memory_swap is not None:
            fs.write_value(d / "memory.swap.max", _swap(r.memory_swap, r.memory_limit))
        if r.cpu_quota is not None or r.cpu_period is not None:
            quota = "max" if not r.cpu_quota or r.cpu_quota < 0 else str(r.cpu_quota)
            fs.write_value(d / "cpu.max", f"{quota} {r.cpu_period or DEFAULT_PERIOD}")
        if r.cpu_shares is not None:
            fs.write_value(d / "cpu.weight", shares_to_weight(r.cpu_shares))
        if r.cpuset_cpus:
            fs.write_value(d / "cpuset.cpus", r.cpuset_cpus)
        if r.cpuset_mems:
            fs.write_value(d / "cpuset.mems", r.cpuset_mems)
        if r.pids_limit is not None:
            fs.write_value(d / "pids.max", "max" if r.pids_limit <= 0 else r.pids_limit)
        if r.devices:
            # v2 device control needs an eBPF program; not implemented (see engine/cgroups README).
            log.debug("device rules ignored on cgroup v2 for %s", path)

    def add_process(self, path: str, pid: int) -> None:
        """Move ``pid`` into the cgroup."""
        fs.write_value(self._dir(path) / "cgroup.procs", pid)

    def freeze(self, path: str) -> None:
        """Write cgroup.freeze=1 and wait for cgroup.events to say frozen."""
        d = self._dir(path)
        fs.write_value(d / "cgroup.freeze", 1)
        wait_until(lambda: fs.read_keyed(d / "cgroup.events").get("frozen") == 1, 5.0,
                   "freeze", path)

    def thaw(self, path: str) -> None:
        """Write cgroup.freeze=0 and wait until no longer frozen."""
        d = self._dir(path)
        fs.write_value(d / "cgroup.freeze", 0)
        wait_until(lambda: fs.read_keyed(d / "cgroup.events").get("frozen", 0) == 0, 5.0,
                   "thaw", path)

    def is_frozen(self, path: str) -> bool:
        """True when cgroup.freeze is set."""
        return fs.read_int(self._dir(path) / "cgroup.freeze") == 1

    def kill_all(self, path: str, sig: int) -> None:
        """Signal every process: cgroup.kill for SIGKILL, else freeze/signal/thaw."""
        d = self._dir(path)
        if sig == 9 and (d / "cgroup.kill").exists():
            fs.write_value(d / "cgroup.kill", 1)
            return
        self.freeze(path)
        try:
            for pid in self.pids(path):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            self.thaw(path)

    def pids(self, path: str) -> list[int]:
        """Every process in the cgroup."""
        return fs.read_pids(self._dir(path) / "cgroup.procs")

    def stats(self, path: str) -> CgroupStats:
        """CPU, memory and pids usage."""
        d = self._dir(path)
        return CgroupStats(
            cpu_usage_ns=fs.read_keyed(d / "cpu.stat").get("usage_usec", 0) * 1000,
            memory_usage=fs.read_int(d / "memory.current"),
            memory_limit=fs.read_int(d / "memory.max"),
            pids_current=fs.read_int(d / "pids.current"),
            pids_limit=fs.read_int(d / "pids.max"),
        )

    def oom_killed(self, path: str) -> bool:
        """True when memory.events counts an oom_kill."""
        return fs.read_keyed(self._dir(path) / "memory.events").get("oom_kill", 0) > 0

    def exists(self, path: str) -> bool:
        """True if the cgroup directory exists."""
        return self._dir(path).is_dir()

    def delete(self, path: str) -> None:
        """rmdir the cgroup (its processes must be gone)."""
        fs.remove_dir(self._dir(path))

    def list_paths(self, prefix: str) -> list[str]:
        """All cgroups below ``prefix``."""
        return walk_paths(self.root, prefix)


def _limit(value: int) -> str:
    return "max" if value is None or value < 0 else str(value)


def _swap(swap: int, limit: int | None) -> str:
    # OCI swap is memory+swap (v1 memsw); v2 wants the swap part alone.
    if swap < 0:
        return "max"
    return str(max(swap - (limit or 0), 0)) if limit and limit > 0 else str(swap)
