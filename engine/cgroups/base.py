"""Types shared by the cgroup drivers: the driver protocol, stats, and resource parsing."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from engine.errors import EngineError


@dataclass(frozen=True, slots=True)
class CgroupStats:
    """A snapshot of one cgroup's usage. Limits of 0 mean "no limit"."""

    cpu_usage_ns: int
    memory_usage: int
    memory_limit: int
    pids_current: int
    pids_limit: int
    memory_inactive_file: int = 0  # page cache the kernel can drop (docker subtracts it)
    io_read_bytes: int = 0
    io_write_bytes: int = 0


@dataclass(frozen=True, slots=True)
class DeviceRate:
    """A per-device block I/O value: a weight or a bytes/IOs per second throttle."""

    major: int
    minor: int
    value: int


@dataclass(frozen=True, slots=True)
class BlockIO:
    """OCI ``linux.resources.blockIO`` (docker's ``blkio_config``)."""

    weight: int | None = None  # 10..1000
    weight_device: tuple[DeviceRate, ...] = ()
    read_bps: tuple[DeviceRate, ...] = ()
    write_bps: tuple[DeviceRate, ...] = ()
    read_iops: tuple[DeviceRate, ...] = ()
    write_iops: tuple[DeviceRate, ...] = ()

    @classmethod
    def from_oci(cls, bio: dict[str, Any] | None) -> BlockIO:
        """Build from an OCI ``blockIO`` object."""
        bio = bio or {}

        def rates(key: str, field: str) -> tuple[DeviceRate, ...]:
            return tuple(DeviceRate(int(d["major"]), int(d["minor"]), int(d[field]))
                         for d in bio.get(key) or ())

        return cls(weight=bio.get("weight") or None,
                   weight_device=rates("weightDevice", "weight"),
                   read_bps=rates("throttleReadBpsDevice", "rate"),
                   write_bps=rates("throttleWriteBpsDevice", "rate"),
                   read_iops=rates("throttleReadIOPSDevice", "rate"),
                   write_iops=rates("throttleWriteIOPSDevice", "rate"))

    def is_set(self) -> bool:
        """True when any value is given."""
        return bool(self.weight or self.weight_device or self.read_bps or self.write_bps
                    or self.read_iops or self.write_iops)


@dataclass(frozen=True, slots=True)
class Resources:
    """The subset of OCI ``linux.resources`` the drivers apply (None = leave the default)."""

    memory_limit: int | None = None
    memory_reservation: int | None = None
    memory_swap: int | None = None  # OCI semantics: memory + swap; -1 unlimited
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    devices: tuple[dict[str, Any], ...] = ()
    block_io: BlockIO = BlockIO()

    @classmethod
    def from_oci(cls, res: dict[str, Any] | None) -> Resources:
        """Build from an OCI ``linux.resources`` object (unknown keys are ignored)."""
        res = res or {}
        mem, cpu, pids = res.get("memory") or {}, res.get("cpu") or {}, res.get("pids") or {}
        return cls(
            memory_limit=mem.get("limit"), memory_reservation=mem.get("reservation"),
            memory_swap=mem.get("swap"), cpu_quota=cpu.get("quota"),
            cpu_period=cpu.get("period"), cpu_shares=cpu.get("shares"),
            cpuset_cpus=cpu.get("cpus") or None, cpuset_mems=cpu.get("mems") or None,
            pids_limit=pids.get("limit"), devices=tuple(res.get("devices") or ()),
            block_io=BlockIO.from_oci(res.get("blockIO")),
        )


class CgroupDriver(Protocol):
    """What the runtime and the containers helper need from a cgroup hierarchy."""

    version: int

    def create(self, path: str, resources: dict[str, Any]) -> None:
        """Create ``path`` (relative, e.g. ``pycompose/<id>``) and apply OCI resources."""

    def update(self, path: str, resources: dict[str, Any]) -> None:
        """Apply changed OCI resources to an existing cgroup (device rules are replaced)."""

    def add_process(self, path: str, pid: int) -> None:
        """Move ``pid`` into the cgroup."""

    def join_self(self, path: str, *, v2: bool = True) -> None:
        """Move the calling process, which must be single-threaded (a freshly forked child),
        into the cgroup (``v2=False``: not in the v2 hierarchy, see :meth:`v2_dir`)."""

    def v2_dir(self, path: str) -> Path | None:
        """The cgroup's directory in the v2 hierarchy (on a hybrid host the controller-less
        ``unified`` one), where a child can be born with clone3's CLONE_INTO_CGROUP instead of
        being moved there; None without one."""

    def freeze(self, path: str) -> None:
        """Freeze every task and return once the kernel reports the cgroup frozen."""

    def thaw(self, path: str) -> None:
        """Undo freeze() and return once thawed."""

    def is_frozen(self, path: str) -> bool:
        """True while frozen (or freezing)."""

    def kill_all(self, path: str, sig: int) -> None:
        """Send ``sig`` to every process in the cgroup."""

    def pids(self, path: str) -> list[int]:
        """Every process (tgid) in the cgroup."""

    def stats(self, path: str) -> CgroupStats:
        """CPU, memory and pids usage and limits."""

    def oom_killed(self, path: str) -> bool:
        """True once the kernel OOM killer has killed a task of this cgroup."""

    def exists(self, path: str) -> bool:
        """True if the cgroup exists."""

    def delete(self, path: str) -> None:
        """Remove the cgroup (its processes must be gone)."""

    def prune(self, path: str) -> None:
        """Remove the cgroup ``path`` if it is empty (no cgroup, no process in it) and no
        cgroup is being created meanwhile; else leave it (a parent other cgroups still use)."""

    def list_paths(self, prefix: str) -> list[str]:
        """Every cgroup below ``prefix``, relative to the hierarchy root."""


def clean_path(path: str) -> str:
    """Normalise a relative cgroup path and refuse escapes (``..``) and the root itself."""
    parts = [p for p in path.strip("/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise EngineError("cgroup path must be relative and inside the hierarchy",
                          step="cgroup path", obj=path)
    return "/".join(parts)


def walk_paths(root: Path, prefix: str) -> list[str]:
    """Every cgroup directory under ``root/prefix`` (prefix excluded), relative to root."""
    base = root / clean_path(prefix)
    if not base.is_dir():
        return []
    out = []
    for dirpath, dirnames, _ in os.walk(base):
        for d in dirnames:
            out.append(str((Path(dirpath) / d).relative_to(root)))
    return sorted(out)


def wait_until(predicate: Any, timeout: float, what: str, obj: str) -> None:
    """Poll ``predicate`` (cgroupfs has no event for these) until true or raise EngineError."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not predicate():
        if time.monotonic() > deadline:
            raise EngineError(f"timed out waiting for {what}", step="cgroup", obj=obj)
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
