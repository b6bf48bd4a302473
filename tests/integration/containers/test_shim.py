"""The shim under conditions that broke it: started without the fork server after a
multi-threaded phase (SQLite state inherited across fork), exec failures, stop followed at once
by start."""
from __future__ import annotations

import threading

import pytest

import engine.containers as containers
from engine import store
from engine.containers import paths, record
from engine.containers.spec import State

pytestmark = pytest.mark.root


def _use_store_from_threads() -> None:
    """Threads that open (and, when they end, close) their own store connections: SQLite
    parks a closed connection's descriptor for reuse while the process holds other locks."""
    def worker() -> None:
        for _ in range(5):
            with store.transaction() as db:
                db.execute("SELECT count(*) FROM containers").fetchall()
            containers.list_containers()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_fallback_shims_after_threads_keep_the_database(engine, state_root, monkeypatch
                                                        ) -> None:
    """Without a fork server the caller forks and the child exec's a fresh shim at once;
    after threads used the store, that shim must still leave the database (and its WAL)
    alone, and the caller's records stay intact."""
    from engine.containers import shimd

    monkeypatch.setattr(shimd, "request_shim", lambda *args: False)
    keep = engine.create(engine.spec("keeper", "true"))
    _use_store_from_threads()
    for i in range(3):
        info = engine.run(engine.spec(f"forked-{i}", "echo hi"))
        status = containers.wait(info.id, timeout=10)
        assert status.code == 0, (status, (paths.container_dir(info.id) / "shim.log")
                                  .read_text())
        assert engine.output(info.id) == "hi\n"
        assert containers.inspect(info.id).state is State.EXITED
    assert (state_root / "state.db-wal").exists()
    assert record.get(keep.id).state is State.CREATED  # no record lost
    with store.transaction() as db:  # and the database is still writable here
        db.execute("UPDATE containers SET error='' WHERE id=?", (keep.id,))


def test_a_stale_refresh_never_tears_down_the_next_run(engine, monkeypatch) -> None:
    """A reader (the supervisor, ``ps``) that read the row while the previous run was still
    recorded as running, and checks its shim and init after a stop + start made a new run,
    must not tear down (SIGKILL) the new run: the repair re-reads the row under the lock."""
    from engine.containers import lifecycle

    info = engine.run(engine.spec("stale", "sleep 30"))
    stale_info, stale_row = record.get(info.id), dict(record.raw(info.id))
    containers.stop(info.id, timeout=0)
    containers.start(info.id)
    row = record.raw(info.id)
    engine.shims.append((row["shim_pid"], row["shim_start"]))
    assert row["pid"] != stale_row["pid"]
    real_get, real_raw = record.get, record.raw
    calls = {"n": 0}

    def get_once_stale(ref: str):  # the first read, as a reader raced with stop + start
        calls["n"] += 1
        return stale_info if calls["n"] == 1 else real_get(ref)

    with monkeypatch.context() as patch:
        patch.setattr(record, "get", get_once_stale)
        patch.setattr(record, "raw", lambda cid: stale_row if calls["n"] == 1 else real_raw(cid))
        seen = lifecycle.refresh(info.id)
    assert seen.state is State.RUNNING and seen.pid == row["pid"]
    assert containers.inspect(info.id).state is State.RUNNING
    code, out, _ = containers.exec_output(info.id, ["echo", "alive"])
    assert (code, out) == (0, b"alive\n")


@pytest.mark.parametrize("request_body", [b'{"nope": 1}', b'{"process": "not an object"}',
                                          b'{"process": {"args": 7}}'])
def test_a_failing_exec_request_fails_only_that_exec(engine, request_body: bytes) -> None:
    """Requests the shim cannot start (here malformed ones; in the field, any exception in
    the runtime) are answered with an error; the shim keeps serving and recording."""
    import json
    import os
    import socket

    info = engine.run(engine.spec("exec-fail", "sleep 30"))
    null = os.open(os.devnull, os.O_RDWR)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            with paths.short_socket_path(info.id) as address:
                sock.connect(address)
            socket.send_fds(sock, [request_body], [null, null, null])
            sock.settimeout(10)
            reply = json.loads(sock.makefile("rb").readline())
    finally:
        os.close(null)
    assert "error" in reply and reply["exit_code"] == 126, reply
    assert containers.inspect(info.id).state is State.RUNNING
    code, out, _ = containers.exec_output(info.id, ["echo", "still", "served"])
    assert (code, out) == (0, b"still served\n")
    containers.stop(info.id, timeout=0)
    assert containers.inspect(info.id).exit_code == 137  # the shim recorded the exit


@pytest.mark.parametrize("server", [True, False], ids=["fork-server", "exec-fallback"])
def test_threaded_start_goes_through_the_fork_server(engine, state_root, monkeypatch,
                                                      server: bool) -> None:
    """A multi-threaded caller: the fork server (a fresh, single-threaded interpreter that
    never opened the store) forks the shim, which records its own start and exit; without a
    server the caller's forked child exec's a fresh shim."""
    from engine.containers import shimd

    if not server:
        monkeypatch.setattr(shimd, "request_shim", lambda *args: False)

    started: list[object] = []
    errors: list[BaseException] = []
    parked = threading.Event()
    idle = threading.Thread(target=parked.wait)  # keeps this process multi-threaded
    idle.start()
    try:
        for i in range(2):
            info = engine.create(engine.spec(f"threaded-{i}", "echo out; sleep 30"))
            try:
                started.append(containers.start(info.id))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            row = record.raw(info.id)
            engine.shims.append((row["shim_pid"], row["shim_start"]))
    finally:
        parked.set()
        idle.join()
    assert errors == []
    assert shimd.server_running(state_root) is server
    for info in started:
        cid = info.id  # type: ignore[attr-defined]
        code, out, _ = containers.exec_output(cid, ["echo", "exec"])
        assert (code, out) == (0, b"exec\n")
        status = containers.stop(cid, timeout=0)
        assert status is not None and status.code == 137
        assert engine.output(cid) == "out\n"
    assert shimd.stop_server(state_root) is server
    assert not shimd.server_running(state_root)


def test_a_shim_records_its_exit_only_on_its_own_run(engine) -> None:
    """A shim whose start was never recorded (its caller died) or whose row was taken over
    by another run must not write its exit over that row."""
    from engine.containers import procinfo

    info = engine.run(engine.spec("own-run", "sleep 30"))
    row = record.raw(info.id)
    record.update(info.id, shim_pid=row["shim_pid"] + 100000)  # "another run's shim"
    containers.kill(info.id)
    assert procinfo.wait_exit(row["shim_pid"], row["shim_start"], 10)
    assert record.get(info.id).exit_code is None  # left alone
    record.update(info.id, shim_pid=row["shim_pid"])
    status = containers.wait(info.id, timeout=5)  # reconciled: shim and init gone
    assert containers.inspect(info.id).state is State.EXITED and status.code == 255

