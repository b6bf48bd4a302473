"""attach and terminals at the engine level, on every runtime: a container's stdin and output
through its shim, an exec's pty allocated in the container, timeouts that kill a process group,
and container processes starting with no signal ignored."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

import engine.containers as containers
from engine.containers import AttachOptions


def _attach(cid: str, data: bytes, **kw: bool | bytes) -> tuple[int, bytes, bytes]:
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        options = AttachOptions(stdin=r, stdout=out.fileno(), stderr=err.fileno(),
                                **kw)  # type: ignore[arg-type]
        try:
            code = containers.attach(cid, options)
        finally:
            os.close(r)
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def test_attach_relays_stdin_and_both_streams(engine) -> None:
    info = engine.run(engine.spec("attach-io", "echo started; cat; echo done >&2; exit 6",
                                  stdin_open=True))
    code, out, err = _attach(info.id, b"line one\nline two\n", replay=True, stdin_once=True)
    assert (code, out, err) == (6, b"started\nline one\nline two\n", b"done\n")
    assert containers.wait(info.id, timeout=10).code == 6


def test_attach_without_stdin_open_gets_output_only(engine) -> None:
    info = engine.run(engine.spec("attach-out", "read x; echo x=$x; sleep 2; exit 2"))
    code, out, _ = _attach(info.id, b"ignored\n", replay=True, stdin_once=True)
    assert (code, out) == (2, b"x=\n")  # stdin is /dev/null: read sees EOF


def test_attach_detach_keys_leave_it_running(engine) -> None:
    info = engine.run(engine.spec("attach-detach", "cat", stdin_open=True))
    code, out, _ = _attach(info.id, b"echo me\n\x10\x11after\n")
    assert code == containers.DETACHED
    assert containers.inspect(info.id).state is containers.State.RUNNING
    code, out, _ = _attach(info.id, b"again\n", stdin_once=True, detach_keys=b"")
    assert code == 0 and out.endswith(b"again\n")  # cat may echo "me" only now


def test_attach_relays_input_to_a_tty_container(engine) -> None:
    info = engine.run(engine.spec("attach-tty", "read x; stty size; echo got=$x", tty=True,
                                  stdin_open=True))
    code, out, _ = _attach(info.id, b"hi\n", stdin_once=True)
    assert code == 0 and b"got=hi" in out  # a pipe has no size: the pty keeps its own


def test_exec_tty_is_the_containers_own(engine, tmp_path: Path) -> None:
    info = engine.run(engine.spec("exec-pts", "sleep 30"))
    out_path = tmp_path / "out"
    with open(out_path, "wb") as out:
        code = containers.exec(info.id, ["sh", "-c", "tty; exit 3"], tty=True,
                               stdout=out.fileno())
    assert code == 3
    assert out_path.read_bytes().strip().startswith(b"/dev/pts/")


def test_no_signal_is_ignored_in_the_container(engine) -> None:
    info = engine.run(engine.spec("sigign", "grep SigIgn /proc/self/status; sleep 30"))
    code, out, _ = containers.exec_output(info.id, ["grep", "SigIgn", "/proc/self/status"])
    assert (code, out.split()) == (0, [b"SigIgn:", b"0000000000000000"])
    # the container's own grep runs concurrently with the exec: its line may come later
    deadline = time.monotonic() + 10
    while "SigIgn" not in engine.output(info.id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "SigIgn:\t0000000000000000" in engine.output(info.id)


def test_exec_timeout_kills_the_process_group(engine) -> None:
    info = engine.run(engine.spec("exec-timeout", "sleep 30"))
    began = time.monotonic()
    with pytest.raises(containers.ExecTimeout):
        containers.exec_output(info.id, ["sh", "-c", "sleep 21 & sleep 22"], timeout=0.5)
    assert time.monotonic() - began < 10
    code, out, _ = containers.exec_output(info.id, ["ps", "-o", "args"])
    assert b"sleep 21" not in out and b"sleep 22" not in out, out
