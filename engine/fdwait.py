"""Waiting until file descriptors are readable, through ``poll(2)``.

``select(2)`` refuses a descriptor numbered 1024 or above (``ValueError: filedescriptor out of
range``), and a long-lived process that embeds pycompose (a test session, a program using the
Python API, the warm engine after many commands) reaches such numbers. Every wait of the
project goes through :func:`readable`, which has no such limit.
"""

from __future__ import annotations

import math
import select

TYPE_CHECKING = False  # typing costs an import on the thin client's path
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

_LONGEST_MS = 2**31 - 1  # poll's limit (~24.8 days): a longer wait ends there


def _fd(item: Any) -> int:
    return item if isinstance(item, int) else int(item.fileno())


def readable(items: Sequence[Any], timeout: float | None) -> list[Any]:
    """The members of ``items`` (descriptors, or objects with ``fileno()``) that are readable,
    hung up or in error once the first of them is, or after ``timeout`` seconds (None: no
    limit); in the order given. As with ``select``, a pidfd is readable once its process has
    exited. A closed descriptor counts as ready, so that the caller's read reports it."""
    poller = select.poll()
    fds = [_fd(item) for item in items]
    for fd in set(fds):
        poller.register(fd, select.POLLIN)  # (hang-ups and errors come without asking)
    wait = None if timeout is None else min(_LONGEST_MS, max(0, math.ceil(timeout * 1000)))
    ready = {fd for fd, _ in poller.poll(wait)}
    return [item for item, fd in zip(items, fds, strict=True) if fd in ready]
