"""Where on a cgroup v2 host our containers' cgroups go: the mount root, or a delegated subtree.

root owns the hierarchy and creates ``pycompose/<id>`` under the mount. A user to whom a subtree
was delegated (systemd's ``user@UID.service``, or any directory chowned to them with its
``cgroup.procs`` and ``cgroup.subtree_control``) can only write there: containers go under the
highest ancestor of the process's own cgroup that the user owns.
"""
from __future__ import annotations

import os
from pathlib import Path

DELEGATED_FILES = ("cgroup.procs", "cgroup.subtree_control")


def own_cgroup(proc_self_cgroup: str) -> str:
    """The v2 path (``0::/a/b``) from /proc/self/cgroup text, without the leading slash."""
    for line in proc_self_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:].strip().strip("/")
    return ""


def owned(d: Path, uid: int) -> bool:
    """True when ``uid`` may create children in ``d`` and manage its controllers."""
    try:
        return d.stat().st_uid == uid and all((d / f).stat().st_uid == uid
                                              for f in DELEGATED_FILES)
    except OSError:
        return False


def delegated_root(mount: Path, proc_self_cgroup: str | None = None,
                   uid: int | None = None) -> Path:
    """The directory under which containers' cgroups are created for this process."""
    uid = os.geteuid() if uid is None else uid
    if uid == 0 or owned(mount, uid):
        return mount
    if proc_self_cgroup is None:
        try:
            proc_self_cgroup = Path("/proc/self/cgroup").read_text()
        except OSError:
            return mount
    rel = own_cgroup(proc_self_cgroup)
    parts = [p for p in rel.split("/") if p and p != ".."]
    for depth in range(1, len(parts) + 1):  # the highest owned ancestor wins
        candidate = mount.joinpath(*parts[:depth])
        if owned(candidate, uid):
            return candidate
    return mount
