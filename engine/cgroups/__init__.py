"""cgroup drivers: v1 (per-controller hierarchies, hybrid hosts) and v2 (unified).

``driver()`` probes the host; both drivers implement :class:`CgroupDriver` with paths relative to
the hierarchy root, e.g. ``pycompose/<container id>`` (see engine.naming).
"""
from __future__ import annotations

from pathlib import Path

from engine.cgroups.base import CgroupDriver, CgroupStats, Resources
from engine.cgroups.delegation import delegated_root
from engine.cgroups.v1 import V1Driver
from engine.cgroups.v2 import V2Driver, shares_to_weight

__all__ = ["CgroupDriver", "CgroupStats", "Resources", "V1Driver", "V2Driver", "driver",
           "list_paths", "shares_to_weight"]

_ROOT = Path("/sys/fs/cgroup")


def driver(root: Path = _ROOT) -> CgroupDriver:
    """Return the driver for this host: V2 when ``root`` itself is a unified mount (rooted at
    the subtree delegated to this user, if not root), else V1. Rootless: see
    :mod:`engine.rootless.cgroups`."""
    from engine.rootless import detect

    if detect.rootless():
        from engine.rootless.cgroups import rootless_driver

        return rootless_driver(root)
    found = _drivers.get(root)
    if found is None:  # (root's drivers depend on the mounts alone: probed once, ~0.1 ms)
        found = _drivers[root] = (V2Driver(delegated_root(root))
                                  if (root / "cgroup.controllers").exists() else V1Driver(root))
    return found


_drivers: dict[Path, CgroupDriver] = {}


def list_paths(prefix: str = "pycompose", root: Path = _ROOT) -> list[str]:
    """Every cgroup below ``prefix`` (for leak checks and cleanup sweeps)."""
    return driver(root).list_paths(prefix)
