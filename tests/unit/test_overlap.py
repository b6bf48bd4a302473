"""engine.overlap.together: steps at the same time, failures reported in order."""
from __future__ import annotations

import threading

import pytest

from engine.overlap import together


def test_steps_run_at_the_same_time_and_all_finish() -> None:
    barrier = threading.Barrier(3, timeout=5)  # would time out if they ran one after another
    done: list[int] = []

    def step(i: int) -> None:
        barrier.wait()
        done.append(i)

    together(lambda: step(0), lambda: step(1), lambda: step(2))
    assert sorted(done) == [0, 1, 2]


def test_the_first_failure_in_order_is_raised_after_every_step_ran() -> None:
    finished = threading.Event()

    def slow_ok() -> None:
        finished.wait(0.05)
        finished.set()

    def fail(msg: str) -> None:
        raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="second"):
        together(slow_ok, lambda: fail("second"), lambda: fail("third"))
    assert finished.is_set()
    with pytest.raises(RuntimeError, match="first"):
        together(lambda: fail("first"), lambda: fail("second"))
