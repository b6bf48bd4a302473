"""Deleting host links together: many deletions become a few kernel batches.

The kernel unregisters a deleted link under its global rtnl lock and waits for RCU grace
periods per request (15-40 ms here), so the 50 veths of a 50-service ``down``, deleted one
request each, queue behind one another for most of a second. One ``RTM_DELLINK`` naming a
device group unregisters every link of the group as one batch (50 veths: ~45 ms).

Two ways use that, both with a group number chosen at random among those no link of the
namespace is in (a link dump per batch):

- :func:`delete` is a group commit: the caller moves its link into the open batch's group;
  whichever caller first takes the namespace's delete lock closes the batch, waits for its
  members' moves and deletes the group; the callers that queued meanwhile find their batch
  done, or delete the next one together. Each returns once its link is gone, as with a
  request of its own.
- Inside :func:`deferred_deletes` (``down`` removing a project's containers), a *doomed*
  link (a veth whose container's namespace is removed right after: the kernel's teardown of
  that namespace deletes the pair anyway) is only moved into the deferral's group, and the
  group is deleted when the deferral ends. Every removal is spared its wait, and the links
  that the namespace teardowns have not taken yet go in one request. A process killed
  meanwhile leaves nothing: the namespaces' teardown takes the veths.

A batch the kernel refuses as a whole (a link in the group that it cannot delete, which would
mean the number was taken after all) is deleted link by link. Batches are per network
namespace (a thread may have joined another one).
"""
from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from engine.networks import rtdump
from engine.networks.rtnl import Rtnl, RtnlError

log = logging.getLogger(__name__)

_FIRST_GROUP = 1 << 24  # device groups people name (/etc/iproute2/group) are small numbers


@dataclass
class _Batch:
    """Links moved into one device group, deleted together."""
    group: int
    moving: int = 0  # members between joining and their move into the group
    members: list[int] = field(default_factory=list)  # their link indexes
    done: bool = False
    error: RtnlError | None = None


@dataclass
class _Namespace:
    """The group-commit state of one network namespace."""
    delete_lock: threading.Lock = field(default_factory=threading.Lock)
    open: _Batch | None = None  # the group commit's batch that callers join
    deferred: _Batch | None = None  # the deferral's batch


_lock = threading.Lock()
_moved = threading.Condition(_lock)
_namespaces: dict[int, _Namespace] = {}
_deferring = 0  # deferrals active in this process


def _reset() -> None:  # a forked child starts with no batches (and unheld locks)
    global _lock, _moved, _deferring
    _lock = threading.Lock()
    _moved = threading.Condition(_lock)
    _namespaces.clear()
    _deferring = 0


os.register_at_fork(after_in_child=_reset)


def delete(rtnl: Rtnl, index: int, doomed: bool = False) -> None:
    """Delete link ``index`` of the calling thread's namespace (``rtnl`` is a socket there),
    together with the links other threads delete meanwhile; raise :class:`RtnlError` as a
    request of its own would (``ENODEV``: it is gone already). A ``doomed`` link, inside
    :func:`deferred_deletes`, is only moved into the deferral's group."""
    ns = _netns()
    joined: _Batch | None = None
    try:  # (an interrupt between joining and leaving would stall the batch's deletion)
        with _lock:
            space = _namespaces.setdefault(ns, _Namespace())
            if doomed and _deferring:
                batch = space.deferred = space.deferred or _Batch(_free_group())
                deferred = True
            else:
                batch = space.open = space.open or _Batch(_free_group())
                deferred = False
            batch.moving += 1
            joined = batch
        rtnl.set_group(index, batch.group)
        with _lock:
            batch.members.append(index)
    finally:
        if joined is not None:
            with _lock:
                joined.moving -= 1
                _moved.notify_all()
    if deferred:
        return
    with space.delete_lock:
        if not batch.done:
            _commit(rtnl, space, batch)
    if batch.error is not None:
        rtnl.delete_link(index)  # the batch was refused as a whole


class Deferral:
    """What :func:`deferred_deletes` yields."""

    def __init__(self) -> None:
        self._flushing: list[threading.Thread] = []

    def flush_in_background(self) -> None:
        """Start deleting the links deferred so far (in this thread's namespace), beside the
        caller's next steps; the deferral's end waits for it. The kernel's wait for a
        deletion runs outside its rtnl lock, so another deletion meanwhile (a bridge) does
        not queue behind this one."""
        batch = _take_deferred(_netns())
        if batch is not None:
            thread = threading.Thread(target=_flush_or_warn, args=(batch,), name="dellink")
            thread.start()
            self._flushing.append(thread)

    def _finish(self) -> None:
        for thread in self._flushing:
            thread.join()


@contextmanager
def deferred_deletes() -> Iterator[Deferral]:
    """While this runs, doomed links (see :func:`delete`) are deleted together at its end, or
    when :meth:`Deferral.flush_in_background` says."""
    global _deferring
    deferral = Deferral()
    with _lock:
        _deferring += 1
    try:
        yield deferral
    finally:
        here = _netns()
        with _lock:
            _deferring -= 1
            last = not _deferring
        batch = _take_deferred(here) if last else None
        deferral._finish()
        if batch is not None:
            _flush_or_warn(batch)
        if last:
            with _lock:
                for space in _namespaces.values():
                    space.deferred = None  # another namespace's: its teardowns take them


def _take_deferred(ns: int) -> _Batch | None:
    with _lock:
        space = _namespaces.get(ns)
        if space is None:
            return None
        batch, space.deferred = space.deferred, None
        return batch


def _commit(rtnl: Rtnl, space: _Namespace, batch: _Batch) -> None:
    """Close ``batch`` (later callers open the next), wait for its members' moves, delete."""
    with _lock:
        if space.open is batch:
            space.open = None
    _await_moves(batch)
    try:
        rtnl.delete_group(batch.group)
    except RtnlError as exc:
        batch.error = exc
    batch.done = True


def _flush_or_warn(batch: _Batch) -> None:
    try:
        _flush(batch)
    except Exception as exc:  # noqa: BLE001 - the namespace teardowns still take them
        log.warning("deleting the removed containers' links: %s", exc)


def _flush(batch: _Batch) -> None:
    """Delete what is left of a deferral's group (the namespace teardowns took the rest)."""
    _await_moves(batch)
    with Rtnl() as rtnl:
        try:
            rtnl.delete_group(batch.group)
            return
        except RtnlError as exc:
            if exc.code == errno.ENODEV:
                return  # none left
        for index in batch.members:
            try:
                rtnl.delete_link(index)
            except RtnlError as exc:
                if exc.code != errno.ENODEV:
                    log.warning("deleting link %d: %s", index, exc)


def _await_moves(batch: _Batch) -> None:
    """Wait until every member that joined ``batch`` has moved its link into the group."""
    with _lock:
        while batch.moving:
            _moved.wait()


def _netns() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def _free_group() -> int:
    """A random device group number that no link of the namespace is in (called under the
    lock: one link dump per batch)."""
    taken = rtdump.link_groups()
    while True:
        group = _FIRST_GROUP + int.from_bytes(os.urandom(4), "little") % ((1 << 31)
                                                                         - _FIRST_GROUP)
        if group not in taken:
            return group
