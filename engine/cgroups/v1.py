"""cgroup v1 driver: one directory per controller hierarchy (this machine's layout).

On hybrid hosts the controller-less v2 hierarchy (``<root>/unified``) is used as well, for tracking
and for ``cgroup.kill``, which v1 lacks.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from engine.cgroups import fs
from engine.cgroups.base import (
    BlockIO,
    CgroupStats,
    Resources,
    clean_path,
    wait_until,
    walk_paths,
)

log = logging.getLogger(__name__)

CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio",
               "systemd")


class V1Driver:
    """cgroup v1 (or hybrid) driver rooted at ``root`` (default /sys/fs/cgroup)."""

    version = 1

    def __init__(self, root: Path = Path("/sys/fs/cgroup")) -> None:
        self.root = root
        self.hierarchies = {c: root / c for c in CONTROLLERS
                            if (root / c / "cgroup.procs").exists()}
        unified = root / "unified"
        self.unified = unified if (unified / "cgroup.procs").exists() else None

    def _dirs(self, path: str) -> list[Path]:
        rel = clean_path(path)
        dirs = [h / rel for h in self.hierarchies.values()]
        return dirs + ([self.unified / rel] if self.unified else [])

    def _dir(self, controller: str, path: str) -> Path:
        return self.hierarchies[controller] / clean_path(path)

    def create(self, path: str, resources: dict[str, Any]) -> None:
        """Create the cgroup in every hierarchy and apply the OCI resources."""
        with fs.tree_lock(self.root):
            for d in self._dirs(path):
                if "cpuset" in self.hierarchies and d.is_relative_to(self.hierarchies["cpuset"]):
                    self._make_cpuset(d)
                else:
                    fs.make_dir(d)
        self.apply(path, Resources.from_oci(resources))

    def update(self, path: str, resources: dict[str, Any]) -> None:
        """Apply changed resources (device rules are written again, after a reset)."""
        self.apply(path, Resources.from_oci(resources))

    def _make_cpuset(self, d: Path) -> None:
        # A v1 cpuset accepts no task until cpus and mems are set; copy them down from the parent.
        root = self.hierarchies["cpuset"]
        chain = [d, *d.parents]
        chain = chain[: chain.index(root)]
        for level in reversed(chain):
            if fs.make_dir(level) or not fs.read_value(level / "cpuset.cpus"):
                for name in ("cpuset.cpus", "cpuset.mems"):
                    fs.write_value(level / name, fs.read_value(level.parent / name))

    def apply(self, path: str, r: Resources) -> None:
        """Write resource limits (only those set)."""
        mem = self.hierarchies.get("memory")
        if mem:
            d = mem / clean_path(path)
            if r.memory_limit is not None:
                fs.write_value(d / "memory.limit_in_bytes", r.memory_limit)
            if r.memory_reservation is not None:
                fs.write_value(d / "memory.soft_limit_in_bytes", r.memory_reservation)
            if r.memory_swap is not None:
                if (d / "memory.memsw.limit_in_bytes").exists():
                    fs.write_value(d / "memory.memsw.limit_in_bytes", r.memory_swap)
                else:
                    log.warning("swap accounting is off; memory.swap limit ignored for %s", path)
        self._apply_cpu(path, r)
        if r.pids_limit is not None and "pids" in self.hierarchies:
            limit = "max" if r.pids_limit <= 0 else r.pids_limit
            fs.write_value(self._dir("pids", path) / "pids.max", limit)
        if r.devices and "devices" in self.hierarchies:
            self._apply_devices(self._dir("devices", path), r.devices)
        if r.block_io.is_set() and "blkio" in self.hierarchies:
            _apply_blkio(self._dir("blkio", path), r.block_io, path)

    def _apply_cpu(self, path: str, r: Resources) -> None:
        if "cpu" in self.hierarchies:
            d = self._dir("cpu", path)
            if r.cpu_period is not None:
                fs.write_value(d / "cpu.cfs_period_us", r.cpu_period)
            if r.cpu_quota is not None:
                fs.write_value(d / "cpu.cfs_quota_us", r.cpu_quota if r.cpu_quota > 0 else -1)
            if r.cpu_shares is not None:
                fs.write_value(d / "cpu.shares", r.cpu_shares)
        if "cpuset" in self.hierarchies:
            d = self._dir("cpuset", path)
            if r.cpuset_cpus:
                fs.write_value(d / "cpuset.cpus", r.cpuset_cpus)
            if r.cpuset_mems:
                fs.write_value(d / "cpuset.mems", r.cpuset_mems)

    @staticmethod
    def _apply_devices(d: Path, rules: tuple[dict[str, Any], ...]) -> None:
        for rule in rules:
            major = "*" if rule.get("major") in (None, -1) else rule["major"]
            minor = "*" if rule.get("minor") in (None, -1) else rule["minor"]
            kind = rule.get("type") or "a"
            entry = "a" if kind == "a" and major == "*" and minor == "*" else (
                f"{kind} {major}:{minor} {rule.get('access') or 'rwm'}")
            fs.write_value(d / ("devices.allow" if rule.get("allow") else "devices.deny"), entry)

    def add_process(self, path: str, pid: int) -> None:
        """Move ``pid`` into the cgroup in every hierarchy."""
        for d in self._dirs(path):
            fs.write_value(d / "cgroup.procs", pid)

    def v2_dir(self, path: str) -> Path | None:
        return self.unified / clean_path(path) if self.unified else None

    def join_self(self, path: str, *, v2: bool = True) -> None:
        """Move the calling single-threaded process into the cgroup in every hierarchy.

        In the v1 hierarchies it writes ``0`` (itself) to ``tasks``, not its pid to
        ``cgroup.procs``. A whole-process move takes the kernel's global threadgroup lock for
        writing, which waits for an RCU grace period (measured 7-21 ms here) whenever no
        other move ran in the last few. Moving only the calling thread skips that lock, and
        for a single-threaded process the thread is the whole process (0.1 ms per
        hierarchy). The controller-less v2 hierarchy has no such path, so it pays one grace
        period (the runtime avoids it: its children are born there, see ``v2_dir``).
        """
        rel = clean_path(path)
        for h in self.hierarchies.values():
            fs.write_value(h / rel / "tasks", 0)
        if self.unified and v2:
            fs.write_value(self.unified / rel / "cgroup.procs", 0)

    def freeze(self, path: str) -> None:
        """Freeze every task and wait until the freezer reports FROZEN."""
        d = self._dir("freezer", path)
        fs.write_value(d / "freezer.state", "FROZEN")
        wait_until(lambda: fs.read_value(d / "freezer.state") == "FROZEN", 5.0, "freeze", path)

    def thaw(self, path: str) -> None:
        """Thaw the cgroup and wait until it is THAWED."""
        d = self._dir("freezer", path)
        fs.write_value(d / "freezer.state", "THAWED")
        wait_until(lambda: fs.read_value(d / "freezer.state") == "THAWED", 5.0, "thaw", path)

    def is_frozen(self, path: str) -> bool:
        """True when the freezer state is FROZEN (or FREEZING)."""
        try:
            return fs.read_value(self._dir("freezer", path) / "freezer.state") != "THAWED"
        except Exception:
            return False

    def kill_all(self, path: str, sig: int) -> None:
        """Signal every process in the cgroup (cgroup.kill for SIGKILL when available)."""
        if self.unified and sig == 9 and (self.unified / clean_path(path) / "cgroup.kill").exists():
            fs.write_value(self.unified / clean_path(path) / "cgroup.kill", 1)
            return
        # Freeze first so no task can fork a child we would miss, then signal, then thaw.
        frozen = "freezer" in self.hierarchies and self.exists(path)
        if frozen:
            self.freeze(path)
        try:
            fs.signal_pids(self._procs(path), sig)
        finally:
            if frozen:
                self.thaw(path)

    def pids(self, path: str) -> list[int]:
        """Every process in the cgroup."""
        return fs.read_pids(self._procs(path))

    def _procs(self, path: str) -> Path:
        key = "pids" if "pids" in self.hierarchies else next(iter(self.hierarchies))
        return self._dir(key, path) / "cgroup.procs"

    def stats(self, path: str) -> CgroupStats:
        """CPU, memory and pids usage."""
        h = self.hierarchies
        rel = clean_path(path)
        unlimited = 1 << 62
        mem_limit = fs.read_int(h["memory"] / rel / "memory.limit_in_bytes") if "memory" in h else 0
        mstat = fs.read_keyed(h["memory"] / rel / "memory.stat") if "memory" in h else {}
        rbytes, wbytes = _blkio_bytes(h["blkio"] / rel) if "blkio" in h else (0, 0)
        return CgroupStats(
            cpu_usage_ns=fs.read_int(h["cpuacct"] / rel / "cpuacct.usage") if "cpuacct" in h else 0,
            memory_usage=fs.read_int(h["memory"] / rel / "memory.usage_in_bytes")
            if "memory" in h else 0,
            memory_limit=0 if mem_limit >= unlimited else mem_limit,
            pids_current=fs.read_int(h["pids"] / rel / "pids.current") if "pids" in h else 0,
            pids_limit=fs.read_int(h["pids"] / rel / "pids.max") if "pids" in h else 0,
            memory_inactive_file=mstat.get("total_inactive_file", 0),
            io_read_bytes=rbytes, io_write_bytes=wbytes,
        )

    def oom_killed(self, path: str) -> bool:
        """True when the kernel OOM killer killed a task of this cgroup."""
        if "memory" not in self.hierarchies:
            return False
        events = fs.read_keyed(self._dir("memory", path) / "memory.oom_control")
        return events.get("oom_kill", 0) > 0

    def exists(self, path: str) -> bool:
        """True if the cgroup exists in any hierarchy."""
        return any(d.is_dir() for d in self._dirs(path))

    def delete(self, path: str) -> None:
        """Remove the cgroup from every hierarchy (its processes must be gone)."""
        for d in self._dirs(path):
            fs.remove_dir(d)

    def prune(self, path: str) -> None:
        """Remove ``path`` from every hierarchy if no cgroup or process is left in it (nor one
        being created); one hierarchy still using it ends the attempt."""
        with fs.tree_lock(self.root, exclusive=True) as alone:
            for d in self._dirs(path) if alone else ():
                if not fs.remove_empty(d):
                    return

    def list_paths(self, prefix: str) -> list[str]:
        """All cgroups below ``prefix`` in any hierarchy."""
        found: set[str] = set()
        roots = [*self.hierarchies.values(), *([self.unified] if self.unified else [])]
        for root in roots:
            found.update(walk_paths(root, prefix))
        return sorted(found)


def _apply_blkio(d: Path, bio: BlockIO, path: str) -> None:
    weight_file = next((d / n for n in ("blkio.weight", "blkio.bfq.weight")
                        if (d / n).exists()), None)
    if bio.weight or bio.weight_device:
        if weight_file is None:  # docker warns and discards the weight too
            log.warning("this kernel has no block I/O weight (no CFQ/BFQ scheduler): "
                        "blkio weight of %s not applied", path)
        else:
            if bio.weight:
                fs.write_value(weight_file, bio.weight)
            for w in bio.weight_device:
                fs.write_value(weight_file.with_name(weight_file.name + "_device"),
                               f"{w.major}:{w.minor} {w.value}")
    for name, rates in (("read_bps", bio.read_bps), ("write_bps", bio.write_bps),
                        ("read_iops", bio.read_iops), ("write_iops", bio.write_iops)):
        for r in rates:
            fs.write_value(d / f"blkio.throttle.{name}_device", f"{r.major}:{r.minor} {r.value}")


def _blkio_bytes(d: Path) -> tuple[int, int]:
    """Read and Write totals of blkio.throttle.io_service_bytes (``MAJ:MIN Read N`` lines)."""
    rbytes = wbytes = 0
    try:
        lines = (d / "blkio.throttle.io_service_bytes_recursive").read_text().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            if parts[1] == "Read":
                rbytes += int(parts[2])
            elif parts[1] == "Write":
                wbytes += int(parts[2])
    return rbytes, wbytes
