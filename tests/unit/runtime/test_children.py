"""The exec handshake reader: the exec'd process and its bootstrap share one socket, so READY,
WARNING or ERROR from the former can arrive before the PID from the latter."""
from __future__ import annotations

import os

from engine.errors import EngineError
from engine.runtime.children import ExecFailed, wait_pid_and_ready
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
        send(child, Msg.READY)
        assert wait_pid_and_ready(parent, "c1", _exited_child()) == (4242, None)


def test_ready_before_pid() -> None:
    parent, child = pair()
    with parent, child:
        send(child, Msg.READY)
        send(child, Msg.PID, pid=7)
        assert wait_pid_and_ready(parent, "c1", _exited_child()) == (7, None)


def test_error_before_pid_still_reports_the_pid() -> None:
    parent, child = pair()
    with parent, child:
        send(child, Msg.WARNING, message="w")
        send(child, Msg.ERROR, message='exec: "x": executable file not found in $PATH',
             step="exec", exit_code=127)
        send(child, Msg.PID, pid=9)
        pid, error = wait_pid_and_ready(parent, "c1", _exited_child())
    assert pid == 9
    assert isinstance(error, ExecFailed) and error.exit_code == 127


def test_bootstrap_failure_without_pid() -> None:
    parent, child = pair()
    with parent:
        send(child, Msg.ERROR, message="setns: Invalid argument", step="exec setns")
        child.close()
        pid, error = wait_pid_and_ready(parent, "c1", _exited_child())
    assert pid == 0 and isinstance(error, EngineError) and "setns" in str(error)
