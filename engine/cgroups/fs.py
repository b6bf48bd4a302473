"""The only module that touches cgroupfs files: small read/write/mkdir/rmdir helpers.

Every failure becomes an :class:`engine.errors.EngineError` naming the file, so a cgroup problem
reads as ``cgroup write: /sys/fs/cgroup/memory/pycompose/x/memory.limit_in_bytes: ...``.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from engine.errors import EngineError

log = logging.getLogger(__name__)


def write_value(path: Path, value: str | int) -> None:
    """Write one value to a cgroup control file."""
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as e:
        raise EngineError(f"writing {value!r}: {e.strerror}", step="cgroup write",
                          obj=str(path)) from e


def read_value(path: Path) -> str:
    """Read a cgroup control file (stripped); raises EngineError when it cannot be read."""
    try:
        return path.read_text().strip()
    except OSError as e:
        raise EngineError(e.strerror or str(e), step="cgroup read", obj=str(path)) from e


def read_int(path: Path, default: int = 0) -> int:
    """Read an integer control file; ``max`` and missing files give ``default``."""
    try:
        text = path.read_text().strip()
    except OSError:
        return default
    return default if text in ("", "max") else int(text.split()[0])


def read_keyed(path: Path) -> dict[str, int]:
    """Read a flat keyed file (``key value`` per line) such as memory.events."""
    out: dict[str, int] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def read_pids(path: Path) -> list[int]:
    """Read cgroup.procs; a missing cgroup has no processes."""
    try:
        return [int(x) for x in path.read_text().split()]
    except FileNotFoundError:
        return []


def signal_pids(path: Path, sig: int) -> None:
    """Send ``sig`` to every process listed in ``path`` (a cgroup.procs file); one that exited
    meanwhile is no error."""
    for pid in read_pids(path):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def make_dir(path: Path) -> bool:
    """Create a cgroup directory; return True if it was newly created."""
    try:
        path.mkdir(parents=True)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        raise EngineError(e.strerror or str(e), step="cgroup create", obj=str(path)) from e


def remove_dir(path: Path, timeout: float = 2.0) -> None:
    """rmdir a cgroup; retry briefly on EBUSY (tasks still exiting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise EngineError(e.strerror or str(e), step="cgroup delete",
                                  obj=str(path)) from e
            time.sleep(0.005)


def remove_empty(path: Path) -> bool:
    """rmdir a cgroup unless it still has a child or a process; True once it is gone."""
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError as e:
        if e.errno in (errno.EBUSY, errno.ENOTEMPTY):
            return False
        raise EngineError(e.strerror or str(e), step="cgroup delete", obj=str(path)) from e
    return True


@contextlib.contextmanager
def tree_lock(root: Path, *, exclusive: bool = False) -> Iterator[bool]:
    """flock on the hierarchy's root directory, which is never removed.

    Creating a cgroup (its parents included) holds it shared; removing a parent left empty
    holds it alone and does not wait for it (yields False when a creation is under way,
    which will use the parent). So a parent is never removed between a creation making it
    and placing the new cgroup in it."""
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # (unreadable root: creating goes on unguarded, removing is skipped)
        fd = -1
    try:
        held = fd >= 0 and _flock(fd, exclusive)
        yield held or (fd < 0 and not exclusive)
    finally:
        if fd >= 0:
            os.close(fd)


def _flock(fd: int, exclusive: bool) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH)
    except BlockingIOError:
        return False
    return True
