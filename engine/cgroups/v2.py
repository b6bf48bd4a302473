"""cgroup v2 (unified hierarchy) driver, as on modern distributions.

Controllers are enabled top-down through ``cgroup.subtree_control`` of every ancestor; limits map
from OCI v1-style values (shares -> weight, quota/period -> cpu.max, swap = memory+swap ->
memory.swap.max = swap - limit, blkio weight 10..1000 -> io.weight 1..10000). Device rules
become an eBPF program attached to the cgroup (engine/cgroups/devices.py): v2 has no devices
files. ``root`` may be a delegated subtree rather than the mount point (see delegation.py).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cgroups import devices, fs
from engine.cgroups.base import (
    BlockIO,
    CgroupStats,
    Resources,
    clean_path,
    wait_until,
    walk_paths,
)
from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.runtime.syscalls import Syscalls

log = logging.getLogger(__name__)

WANTED = ("cpu", "cpuset", "io", "memory", "pids")
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

    def __init__(self, root: Path = Path("/sys/fs/cgroup"),
                 syscalls: Syscalls | None = None) -> None:
        self.root = root
        self._syscalls = syscalls

    @property
    def syscalls(self) -> Syscalls:
        """The kernel seam for bpf() (the real one unless a fake was given)."""
        if self._syscalls is None:
            self._syscalls = devices.default_syscalls()
        return self._syscalls

    def _dir(self, path: str) -> Path:
        return self.root / clean_path(path)

    def create(self, path: str, resources: dict[str, Any]) -> None:
        """Create the cgroup, enable controllers on its ancestors, apply resources."""
        d = self._dir(path)
        with fs.tree_lock(self.root):
            self._enable_controllers(d.parent)
            fs.make_dir(d)
        self.apply(path, Resources.from_oci(resources))

    def update(self, path: str, resources: dict[str, Any]) -> None:
        """Apply changed resources; a new device program replaces the old one."""
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
            if (d / "memory.swap.max").exists():
                fs.write_value(d / "memory.swap.max", _swap(r.memory_swap, r.memory_limit))
            else:  # swap accounting off (swapaccount=0): as on v1, say so and go on
                log.warning("swap accounting is off; memory.swap limit ignored for %s", path)
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
        if r.block_io.is_set():
            _apply_io(d, r.block_io)
        if r.devices:
            devices.set_device_filter(self.syscalls, d, r.devices)

    def add_process(self, path: str, pid: int) -> None:
        """Move ``pid`` into the cgroup."""
        fs.write_value(self._dir(path) / "cgroup.procs", pid)

    def join_self(self, path: str, *, v2: bool = True) -> None:
        """Move the calling process into the cgroup (v2 moves whole processes only)."""
        if v2:
            fs.write_value(self._dir(path) / "cgroup.procs", 0)

    def v2_dir(self, path: str) -> Path | None:
        return self._dir(path)

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
            fs.signal_pids(d / "cgroup.procs", sig)
        finally:
            self.thaw(path)

    def pids(self, path: str) -> list[int]:
        """Every process in the cgroup."""
        return fs.read_pids(self._dir(path) / "cgroup.procs")

    def stats(self, path: str) -> CgroupStats:
        """CPU, memory, pids and block I/O usage (cpu.stat, memory.*, pids.*, io.stat)."""
        d = self._dir(path)
        rbytes, wbytes = _io_bytes(d / "io.stat")
        return CgroupStats(
            cpu_usage_ns=fs.read_keyed(d / "cpu.stat").get("usage_usec", 0) * 1000,
            memory_usage=fs.read_int(d / "memory.current"),
            memory_limit=fs.read_int(d / "memory.max"),
            pids_current=fs.read_int(d / "pids.current"),
            pids_limit=fs.read_int(d / "pids.max"),
            memory_inactive_file=fs.read_keyed(d / "memory.stat").get("inactive_file", 0),
            io_read_bytes=rbytes, io_write_bytes=wbytes,
        )

    def oom_killed(self, path: str) -> bool:
        """True when memory.events counts an oom_kill."""
        return fs.read_keyed(self._dir(path) / "memory.events").get("oom_kill", 0) > 0

    def exists(self, path: str) -> bool:
        """True if the cgroup directory exists."""
        return self._dir(path).is_dir()

    def delete(self, path: str) -> None:
        """Detach the device program, then rmdir the cgroup (its processes must be gone)."""
        d = self._dir(path)
        if not d.is_dir():
            return
        try:
            devices.clear_device_filter(self.syscalls, d)
        except EngineError as e:  # the kernel frees it with the cgroup anyway
            log.debug("device program of %s not detached: %s", path, e)
        fs.remove_dir(d)

    def prune(self, path: str) -> None:
        """Remove ``path`` if no cgroup or process is left in it (nor one being created)."""
        with fs.tree_lock(self.root, exclusive=True) as alone:
            if alone:
                fs.remove_empty(self._dir(path))

    def list_paths(self, prefix: str) -> list[str]:
        """All cgroups below ``prefix``."""
        return walk_paths(self.root, prefix)


def blkio_to_io_weight(weight: int) -> int:
    """Map a blkio weight (10..1000) linearly onto io.weight (1..10000)."""
    weight = min(max(weight, 10), 1000)
    return 1 + (weight - 10) * 9999 // 990


def _apply_io(d: Path, bio: BlockIO) -> None:
    if bio.weight:
        fs.write_value(d / "io.weight", f"default {blkio_to_io_weight(bio.weight)}")
    for w in bio.weight_device:
        fs.write_value(d / "io.weight", f"{w.major}:{w.minor} {blkio_to_io_weight(w.value)}")
    for key, rates in (("rbps", bio.read_bps), ("wbps", bio.write_bps),
                       ("riops", bio.read_iops), ("wiops", bio.write_iops)):
        for r in rates:
            fs.write_value(d / "io.max", f"{r.major}:{r.minor} {key}={r.value or 'max'}")


def _io_bytes(path: Path) -> tuple[int, int]:
    """Sum rbytes and wbytes over the devices of an io.stat file."""
    rbytes = wbytes = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        for field in line.split()[1:]:
            key, _, value = field.partition("=")
            if key == "rbytes" and value.isdigit():
                rbytes += int(value)
            elif key == "wbytes" and value.isdigit():
                wbytes += int(value)
    return rbytes, wbytes


def _limit(value: int) -> str:
    return "max" if value is None or value < 0 else str(value)


def _swap(swap: int, limit: int | None) -> str:
    # OCI swap is memory+swap (v1 memsw); v2 wants the swap part alone.
    if swap < 0:
        return "max"
    return str(max(swap - (limit or 0), 0)) if limit and limit > 0 else str(swap)
