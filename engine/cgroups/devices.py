"""cgroup v2 device control: attach, replace and detach the container's device program.

The program comes from :mod:`engine.cgroups.devicefilter`; the ``bpf()`` calls go through the
runtime's syscall seam. Replacement attaches the new program (``BPF_F_ALLOW_MULTI``) BEFORE
detaching the old ones, so there is never a moment without a filter: in between both run and a
device must pass both.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cgroups.devicefilter import assemble, compile_rules
from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.runtime.syscalls import Syscalls

log = logging.getLogger(__name__)

CGROUP_DEVICE = 6      # BPF_CGROUP_DEVICE attach type
F_ALLOW_MULTI = 2      # BPF_F_ALLOW_MULTI
PROG_NAME = "pycompose_dev"
LICENSE = "GPL"


def default_syscalls() -> Syscalls:
    """The real kernel (imported late: the runtime package imports the cgroup drivers)."""
    from engine.runtime.syscalls import LinuxSyscalls

    return LinuxSyscalls()


def set_device_filter(s: Syscalls, cgroup: Path, rules: tuple[dict[str, Any], ...]) -> None:
    """Make ``rules`` the cgroup's device policy: load, attach, then detach what was there."""
    insns = assemble(compile_rules(rules))
    cg_fd = _open(s, cgroup)
    try:
        old = _call(lambda: s.bpf_prog_query(cg_fd, CGROUP_DEVICE), "query", cgroup)
        prog_fd = _call(lambda: s.bpf_prog_load(insns, LICENSE, PROG_NAME), "load", cgroup)
        try:
            _call(lambda: s.bpf_prog_attach(cg_fd, prog_fd, CGROUP_DEVICE, F_ALLOW_MULTI),
                  "attach", cgroup)
        finally:
            s.close(prog_fd)  # the attachment holds the program
        _detach(s, cg_fd, old, cgroup)
    finally:
        s.close(cg_fd)


def clear_device_filter(s: Syscalls, cgroup: Path) -> None:
    """Detach every device program attached to the cgroup itself (before it is removed)."""
    cg_fd = _open(s, cgroup)
    try:
        _detach(s, cg_fd, _call(lambda: s.bpf_prog_query(cg_fd, CGROUP_DEVICE), "query",
                                cgroup), cgroup)
    finally:
        s.close(cg_fd)


def _detach(s: Syscalls, cg_fd: int, prog_ids: list[int], cgroup: Path) -> None:
    for prog_id in prog_ids:
        try:
            fd = s.bpf_prog_get_fd_by_id(prog_id)
        except FileNotFoundError:
            continue  # already gone
        except OSError as e:
            raise EngineError(f"device program {prog_id}: {e.strerror}",
                              step="device filter detach", obj=str(cgroup)) from e
        try:
            s.bpf_prog_detach(cg_fd, fd, CGROUP_DEVICE)
        except FileNotFoundError:
            pass  # detached meanwhile
        except OSError as e:
            raise EngineError(f"bpf detach: {e.strerror}", step="device filter",
                              obj=str(cgroup)) from e
        finally:
            s.close(fd)


def _open(s: Syscalls, cgroup: Path) -> int:
    try:
        return s.open_dir(str(cgroup))
    except OSError as e:
        raise EngineError(e.strerror or str(e), step="device filter", obj=str(cgroup)) from e


def _call(fn: Any, what: str, cgroup: Path) -> Any:
    try:
        return fn()
    except OSError as e:
        raise EngineError(f"bpf {what}: {e.strerror or e}", step="device filter",
                          obj=str(cgroup)) from e
