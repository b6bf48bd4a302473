"""Whether the warm engine's code is still the tree's code.

The engine imports the tree's packages (``compose``, ``engine``); when a module file of them
changes afterwards (an upgrade, a developer's edit), a command must not run the old code.
:class:`TreeWatch` asks inotify about every directory of those packages, so the check costs
nothing per command; where inotify is unavailable it compares modification times instead
(~280 ``stat`` calls per command). It watches the packages, not the modules loaded so far: the
engine starts serving before its preload has imported them all.
"""
from __future__ import annotations

import ctypes
import os
import struct

from engine.fdwait import readable

_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
# modify, attrib, close_write, moved_from, moved_to, create, delete
_MASK = 0x2 | 0x4 | 0x8 | 0x40 | 0x80 | 0x100 | 0x200
_EVENT = struct.Struct("iIII")


PACKAGES = ("compose", "engine")


def module_stamps(tree: str, packages: tuple[str, ...] = PACKAGES) -> dict[str, int]:
    """Modification times of the module files of ``packages`` under ``tree``."""
    stamps = {}
    for package in packages:
        for directory, subdirs, files in os.walk(os.path.join(tree, package)):
            subdirs[:] = [d for d in subdirs if d != "__pycache__" and not d.startswith(".")]
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    try:
                        stamps[path] = os.stat(path).st_mtime_ns
                    except OSError:
                        continue
    return stamps


def changed(stamps: dict[str, int]) -> bool:
    """True when a file of ``stamps`` was modified or removed since."""
    for path, mtime in stamps.items():
        try:
            if os.stat(path).st_mtime_ns != mtime:
                return True
        except OSError:
            return True
    return False


class TreeWatch:
    """Notices a change to any module file of ``packages`` under ``tree``."""

    def __init__(self, tree: str, packages: tuple[str, ...] = PACKAGES) -> None:
        self.stamps = module_stamps(tree, packages)
        self.fd = _inotify(sorted({os.path.dirname(p) for p in self.stamps}))
        self.seen_change = False

    def fileno(self) -> int:
        """The inotify descriptor (select on it), or -1 without inotify."""
        return self.fd

    def stale(self) -> bool:
        """True once a module file has changed (cheap: reads pending events only)."""
        if self.seen_change:
            return True
        if self.fd < 0:
            self.seen_change = changed(self.stamps)
            return self.seen_change
        while readable([self.fd], 0):
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if _names_a_module(data):
                self.seen_change = True
                break
        return self.seen_change

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _names_a_module(data: bytes) -> bool:
    at = 0
    while at + _EVENT.size <= len(data):
        _, _, _, size = _EVENT.unpack_from(data, at)
        name = data[at + _EVENT.size:at + _EVENT.size + size].rstrip(b"\0")
        at += _EVENT.size + size
        if name.endswith(b".py") or not name:  # not name: the directory itself
            return True
    return False


def _inotify(directories: list[str]) -> int:
    """An inotify descriptor watching ``directories``, or -1."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
    except (OSError, AttributeError):
        return -1
    if fd < 0:
        return -1
    for directory in directories:
        if libc.inotify_add_watch(fd, os.fsencode(directory), _MASK) < 0:
            os.close(fd)
            return -1
    return fd
