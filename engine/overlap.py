"""Independent steps at the same time, when they mostly wait: deleting a link waits for the
kernel's RCU grace periods (30-60 ms for a bridge), the host's iptables-nft chain is written by
a subprocess. The threads start in the caller's network namespace (a thread inherits it)."""
from __future__ import annotations

import threading
from collections.abc import Callable


def together(*steps: Callable[[], object]) -> None:
    """Run every step -- the first in the calling thread, the others in helper threads -- and
    return once all are done; the first failure (in the order given) is raised."""
    errors: list[BaseException | None] = [None] * len(steps)

    def run(i: int) -> None:
        try:
            steps[i]()
        except BaseException as exc:  # noqa: B036 - handed to the caller below
            errors[i] = exc

    helpers = [threading.Thread(target=run, args=(i,), name="overlap", daemon=True)
               for i in range(1, len(steps))]
    for t in helpers:
        t.start()
    try:
        run(0)
    finally:
        for t in helpers:
            t.join()
    for exc in errors:
        if exc is not None:
            raise exc
