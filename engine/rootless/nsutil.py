"""The few namespace syscalls rootless mode needs (ctypes: Python 3.11 has no os.setns)."""
from __future__ import annotations

import ctypes
import os

from engine.errors import EngineError

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_SLAVE = 1 << 19
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, step: str, obj: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise EngineError(f"{os.strerror(err)} (errno {err})", step=step, obj=obj)


def unshare(flags: int) -> None:
    """unshare(2) for the calling process (must be single-threaded for CLONE_NEWUSER)."""
    _check(_libc.unshare(flags), "unshare", hex(flags))


def setns(fd: int, nstype: int, obj: str) -> None:
    """setns(2): join the namespace open at ``fd``."""
    _check(_libc.setns(fd, nstype), "setns", obj)


def make_rslave() -> None:
    """Mounts of this namespace stop propagating back; the host's still propagate in."""
    _check(_libc.mount(None, b"/", None, MS_REC | MS_SLAVE, None), "mount", "/ (rslave)")


def die_with_parent(sig: int) -> None:
    """Receive ``sig`` when the parent exits (prctl PR_SET_PDEATHSIG)."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0), "prctl", "PR_SET_PDEATHSIG")
