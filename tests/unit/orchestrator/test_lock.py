"""The project lock serializes commands on one project (and only on that project)."""
from __future__ import annotations

import threading
from pathlib import Path

from compose.orchestrator.lock import project_lock


def test_second_holder_waits_until_release(state_root: Path) -> None:
    order: list[str] = []
    entered = threading.Event()

    def second() -> None:
        with project_lock("p"):
            order.append("second")

    with project_lock("p"):
        t = threading.Thread(target=second)
        t.start()
        with project_lock("other"):  # another project is not blocked
            order.append("other")
        entered.wait(0.2)  # gives the second thread a chance to (wrongly) get in
        order.append("first")
    t.join(5)
    assert order == ["other", "first", "second"]
