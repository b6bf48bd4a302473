"""What both backends share: host-wide locks and the "is anything of ours still alive" test."""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.naming import BRIDGE_PREFIX

log = logging.getLogger(__name__)

_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


@contextmanager
def host_lock(path: Path) -> Iterator[None]:
    """This process's lock for ``path`` (threads) plus an flock on it (processes)."""
    with _guard:
        lock = _thread_locks.setdefault(str(path), threading.Lock())
    with lock:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def host_links() -> list[str]:
    try:
        return os.listdir("/sys/class/net")
    except OSError:
        return []


def all_orphaned(interfaces: Callable[[], Iterable[str]], what: str,
                 going: Collection[str] = ()) -> bool:
    """No network of any state root is left: no ``pcbr-*`` bridge exists (but those in
    ``going``, being deleted by the caller meanwhile) and none of ``interfaces()`` (those our
    remaining rules name; asked only when no bridge is left) exists. What remains then was
    left by crashed processes (of any state root) and would never be removed otherwise.
    Callers hold the backend's lock: a network being created has its bridge before its
    rules, and rebuilds the base if it finds it gone."""
    if any(name.startswith(BRIDGE_PREFIX) and name not in going for name in host_links()):
        return False
    for iface in interfaces():
        name = iface.lstrip("!") if iface else ""
        if name and name not in going and os.path.exists(f"/sys/class/net/{name}"):
            return False
    log.warning("removing pycompose %s rules left by crashed processes (no network left)", what)
    return True
