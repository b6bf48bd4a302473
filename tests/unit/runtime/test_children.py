"""The exec handshake reader: the exec'd process and its bootstrap share one socket, so a
WARNING from the former can arrive before the PID from the latter."""
from __future__ import annotations

import os

import pytest

from engine.errors import EngineError
from engine.runtime.children import expect_pid
from engine.runtime.sync import Msg, pair, send


def _exited_child() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    return pid


def test_pid_after_a_warning_is_returned() -> None:
    parent, child = pair()
    with parent, child:
        send(child, Msg.WARNING, message="cannot set oom_score_adj")
        send(child, Msg.PID, pid=4242)
        assert expect_pid(parent, "c1", _exited_child())["pid"] == 4242


def test_pid_first_is_returned() -> None:
    parent, child = pair()
    with parent, child:
        send(child, Msg.PID, pid=7)
        send(child, Msg.READY)
        assert expect_pid(parent, "c1", _exited_child())["pid"] == 7


def test_error_after_a_warning_is_raised() -> None:
    parent, child = pair()
    with parent, child:
        send(child, Msg.WARNING, message="w")
        send(child, Msg.ERROR, message="no such file", step="exec")
        with pytest.raises(EngineError, match="no such file"):
            expect_pid(parent, "c1", _exited_child())
