"""Give a forked process the command line it would have had if it had been exec'd.

A process the warm engine forks (a command, a daemon) would otherwise show the engine's own
command line in ``ps`` and ``/proc/<pid>/cmdline``. The engine is started with a padding
argument (:data:`PADDING`) so its argument area has room; a forked process rewrites that area in
place with its own NUL-separated arguments (zeros after them). The environment area is not
touched, so ``/proc/<pid>/environ`` stays what it was. ``prctl(PR_SET_MM_ARG_*)`` would be
cleaner but needs CAP_SYS_RESOURCE, which root often lacks in containers.
"""
from __future__ import annotations

PADDING = " " * 8192  # the padding argument a process started for rewriting gets
_ARG_START = 45  # /proc/self/stat fields 48 and 49, counted from the one after ``comm``
_ARG_END = 46


def set_cmdline(argv: list[str]) -> bool:
    """Make ``/proc/self/cmdline`` read ``argv`` (cut to the area's size); False when the area
    could not be found."""
    import ctypes

    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[_ARG_START]), int(fields[_ARG_END])
    except (OSError, IndexError, ValueError):
        return False
    size = end - start
    if size <= 0:
        return False
    data = b"".join(a.encode(errors="surrogateescape") + b"\0" for a in argv)[:size]
    ctypes.memmove(start, data.ljust(size, b"\0"), size)
    return True
