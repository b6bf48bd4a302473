"""The shim fork server's start-up handshake (real processes; no root, no containers)."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.containers import shimd
from engine.fdwait import readable


def _launch(script: str) -> tuple[subprocess.Popen[bytes], int]:
    """A process that gets the write end of a ready pipe as fd 3 (like _spawn_server's)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", script], pass_fds=(write_fd,),
                            env={**os.environ, "FD": str(write_fd)})
    os.close(write_fd)
    return proc, read_fd


def test_wait_ready_reads_the_word_and_reaps_the_first_process() -> None:
    proc, read_fd = _launch("import os; os.write(int(os.environ['FD']), b'ready')")
    assert shimd._wait_ready(proc, read_fd) is True
    assert proc.returncode == 0  # reaped: no zombie left in a long-lived caller


def test_wait_ready_false_when_the_server_dies_without_a_word() -> None:
    proc, read_fd = _launch("raise SystemExit(3)")
    assert shimd._wait_ready(proc, read_fd) is False
    assert proc.returncode == 3


@pytest.fixture
def root(state_root: Path) -> Iterator[Path]:
    shimd._early.clear()
    yield state_root
    shimd.stop_server(state_root)
    shimd._early.clear()


def test_start_early_starts_again_after_the_server_was_stopped(root: Path) -> None:
    """A long-lived caller (`up`, `down`, `up` in one process) gets a new early start once the
    server it started before has been stopped."""
    shimd.start_early()
    assert shimd._await_early(root) is True
    assert shimd.server_running(root)
    assert shimd.stop_server(root)
    assert not shimd.server_running(root)
    shimd.start_early()
    assert isinstance(shimd._early[root], tuple)  # being started, not the stale "came up"
    assert shimd._await_early(root) is True
    assert shimd.server_running(root)


def test_an_early_start_nobody_awaited_is_settled_not_left_pending(root: Path) -> None:
    """The ready pipe and the first process of an early start are released even when no
    request came through the pending path (the server was up by then): a later start_early
    reaps it and starts nothing while the server runs."""
    shimd.start_early()
    entry = shimd._early[root]
    assert isinstance(entry, tuple)
    proc, read_fd = entry
    assert readable([read_fd], 10)  # the server reported
    shimd.start_early()
    assert shimd._early[root] is True
    assert proc.returncode == 0
    with pytest.raises(OSError):
        os.fstat(read_fd)  # closed (ours, not a descriptor number someone reuses later)


def test_a_command_whose_starting_engine_keeps_a_server_neither_asks_nor_forks_early(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``up`` that started the warm engine (which starts the server it keeps first thing)
    does not wait for that engine's answer while it prepares the up's daemons: nothing is
    asked or started early; the first shim request asks for the kept server then."""
    from engine import warm

    asked: list[str] = []
    monkeypatch.setattr(warm, "server_address", str(root / "engine.sock"))
    monkeypatch.setattr(warm, "starting_keeps_shims", True)
    monkeypatch.setattr(warm, "kept_shim_server", None)
    monkeypatch.setattr(warm, "keep_shim_server", lambda: asked.append("keep_shims"))
    shimd.start_early()
    assert asked == []
    assert root not in shimd._early
    assert not shimd.server_running(root)
    spawned: list[Path] = []
    monkeypatch.setattr(shimd, "_spawn_server", lambda r: spawned.append(r) or True)
    monkeypatch.setattr(warm, "starting_keeps_shims", False)
    shimd.start_early()  # any other command with an engine asks it (here it has none to keep)
    assert asked == ["keep_shims"] and spawned == [root]
