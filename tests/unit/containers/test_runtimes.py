"""Runtime selection, runc error mapping to docker exit codes, wait-status conversion."""
from __future__ import annotations

import json
import signal

import pytest

from engine.containers import runtimes
from engine.containers.runtimes import ExecNotExecutable, ExecNotFound, _runtime_error
from engine.containers.shim import exit_code
from engine.errors import EngineError, NotFound


def _log(msg: str) -> bytes:
    return (json.dumps({"level": "warning", "msg": "noise"}) + "\n"
            + json.dumps({"level": "error", "msg": msg}) + "\n").encode()


def test_runc_errors_map_to_docker_codes() -> None:
    e = _runtime_error("runc", "create", "x" * 64, _log(
        'runc create failed: unable to start container process: exec: "nope": executable '
        "file not found in $PATH"))
    assert isinstance(e, ExecNotFound) and e.exit_code == 127 and "nope" in str(e)
    e = _runtime_error("runc", "exec", "x" * 64, _log(
        "exec failed: unable to start container process: exec: /etc/passwd: permission denied"))
    assert isinstance(e, ExecNotExecutable) and e.exit_code == 126
    e = _runtime_error("runc", "kill", "x" * 64, b"container does not exist\n")
    assert isinstance(e, NotFound)
    e = _runtime_error("runc", "create", "x" * 64, b"")
    assert type(e) is EngineError and "no message" in str(e)


def test_wait_status_to_exit_code() -> None:
    assert exit_code(3 << 8) == 3
    assert exit_code(signal.SIGKILL) == 137
    assert exit_code(signal.SIGTERM) == 143


def test_runtime_choice(monkeypatch: pytest.MonkeyPatch, state_root) -> None:
    monkeypatch.setenv(runtimes.RUNTIME_ENV, "runc")
    rt = runtimes.get_runtime()
    assert rt.name == "runc"
    monkeypatch.setenv(runtimes.RUNTIME_ENV, "gvisor")
    with pytest.raises(EngineError, match="unknown runtime"):
        runtimes.get_runtime()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EngineError, match="not installed"):
        runtimes.OciCliRuntime("crun")
