from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from engine import store


def test_registered_tables_exist_and_transactions_commit(state_root: Path) -> None:
    store.register_schema(
        "test_store", "CREATE TABLE IF NOT EXISTS t_store (k TEXT PRIMARY KEY, v TEXT)"
    )
    with store.transaction() as db:
        db.execute("INSERT INTO t_store VALUES (?, ?)", ("a", store.dumps({"x": 1})))
    row = store.connect().execute("SELECT v FROM t_store WHERE k='a'").fetchone()
    assert store.loads(row["v"]) == {"x": 1}


def test_rollback_on_error(state_root: Path) -> None:
    store.register_schema("test_store2", "CREATE TABLE IF NOT EXISTS t_store2 (k TEXT PRIMARY KEY)")
    with pytest.raises(RuntimeError):
        with store.transaction() as db:
            db.execute("INSERT INTO t_store2 VALUES ('a')")
            raise RuntimeError("boom")
    assert store.connect().execute("SELECT count(*) FROM t_store2").fetchone()[0] == 0


def test_concurrent_writers_do_not_lose_rows(state_root: Path) -> None:
    store.register_schema("test_store3", "CREATE TABLE IF NOT EXISTS t_store3 (n INTEGER)")
    store.connect()

    def writer(base: int) -> None:
        for i in range(50):
            with store.transaction() as db:
                db.execute("INSERT INTO t_store3 VALUES (?)", (base + i,))

    threads = [threading.Thread(target=writer, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.connect().execute("SELECT count(*) FROM t_store3").fetchone()[0] == 200


def test_writer_threads_queue_in_the_process_not_in_sqlites_busy_handler(
        state_root: Path) -> None:
    """A second thread's write waits for the first one's commit on a lock: with a busy
    timeout of 1 ms (SQLite's handler would give up), it still gets its turn."""
    store.register_schema("test_store4", "CREATE TABLE IF NOT EXISTS t_store4 (n INTEGER)")
    store.connect()
    inside, done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first() -> None:
        with store.transaction() as db:
            db.execute("INSERT INTO t_store4 VALUES (1)")
            inside.set()
            done.wait(0.2)  # the second writer is queued meanwhile

    def second() -> None:
        inside.wait(5)
        conn = store.sqlite3.connect(store.db_path(), timeout=0.001, isolation_level=None)
        try:
            with store.transaction(conn) as db:
                db.execute("INSERT INTO t_store4 VALUES (2)")
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert store.connect().execute("SELECT count(*) FROM t_store4").fetchone()[0] == 2


def test_forked_child_may_not_open_a_connection(state_root: Path) -> None:
    """SQLite's process-wide state does not survive fork: a child of a process that used the
    store must refuse to open its own connection (it could read /dev/null as the database
    and delete the WAL), and the parent's database stays usable."""
    import os

    store.register_schema("test_store4", "CREATE TABLE IF NOT EXISTS t_store4 (n INTEGER)")
    with store.transaction() as db:
        db.execute("INSERT INTO t_store4 VALUES (1)")
    pid = os.fork()
    if pid == 0:
        store.forget_connections()
        try:
            store.connect()
        except RuntimeError:
            os._exit(0)
        os._exit(1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    with store.transaction() as db:
        db.execute("INSERT INTO t_store4 VALUES (2)")
    assert store.connect().execute("SELECT count(*) FROM t_store4").fetchone()[0] == 2


def _connect_in_a_new_thread() -> threading.Thread:
    """A first connection of another thread, with this process's record of applied schemas
    forgotten (as in a freshly started shim); returns the thread, started."""
    store._applied_by_path.clear()
    opened = threading.Thread(target=store.connect, daemon=True)
    opened.start()
    return opened


def test_a_connection_takes_no_write_lock_when_every_table_exists(state_root: Path) -> None:
    store.register_schema("test_store_ro", "CREATE TABLE IF NOT EXISTS t_ro (k TEXT);"
                          " CREATE INDEX IF NOT EXISTS t_ro_k ON t_ro(k)")
    store.connect()
    writer = sqlite3.connect(store.db_path())
    writer.execute("BEGIN IMMEDIATE")  # another process writing all along
    try:
        opened = _connect_in_a_new_thread()
        opened.join(5)
        assert not opened.is_alive(), "the new connection waited for the write lock"
    finally:
        writer.rollback()
        writer.close()


def test_a_missing_table_is_created_and_other_ddl_always_runs(state_root: Path) -> None:
    store.connect()
    store.register_schema("test_store_late", "CREATE TABLE IF NOT EXISTS t_late (k TEXT)")
    store.register_schema("test_store_other", "CREATE TABLE IF NOT EXISTS t_other (k TEXT);"
                          " CREATE VIEW IF NOT EXISTS v_other AS SELECT k FROM t_other")
    assert store._declared_names("CREATE VIEW IF NOT EXISTS v AS SELECT 1") is None
    _connect_in_a_new_thread().join(5)
    names = {r[0] for r in store.connect().execute("SELECT name FROM sqlite_master")}
    assert {"t_late", "t_other", "v_other"} <= names


def test_writers_of_two_processes_queue_on_the_lock_not_in_sqlites_busy_handler(
        state_root: Path) -> None:
    """Another process holds a write transaction for a while; this one's write waits on the
    database's queue lock and gets its turn, although its busy timeout is 1 ms (SQLite's
    handler alone would give up)."""
    import subprocess
    import sys

    store.register_schema("test_store_xp", "CREATE TABLE IF NOT EXISTS t_xp (n INTEGER)")
    conn = store.connect()
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from engine import store\n"
            "store.register_schema('test_store_xp',\n"
            "                      'CREATE TABLE IF NOT EXISTS t_xp (n INTEGER)')\n"
            "with store.transaction() as db:\n"
            "    db.execute('INSERT INTO t_xp VALUES (1)')\n"
            "    print('in', flush=True)\n"
            "    time.sleep(0.3)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "in\n"
        conn.execute("PRAGMA busy_timeout = 1")
        try:
            with store.transaction(conn) as db:
                db.execute("INSERT INTO t_xp VALUES (2)")
        finally:
            conn.execute(f"PRAGMA busy_timeout = {store._BUSY_TIMEOUT_MS}")
    finally:
        assert holder.wait(10) == 0
    assert [r[0] for r in conn.execute("SELECT n FROM t_xp ORDER BY n")] == [1, 2]


def test_switching_state_roots_keeps_one_queue_descriptor(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A process that moves between state roots (the test suite does, a thousand times) keeps
    the queue lock file of the current one open only."""
    import os

    def queue_files() -> list[str]:
        found = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                target = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                continue  # (the listing's own descriptor)
            if target.endswith("state.db-queue"):
                found.append(target)
        return found

    store.register_schema("test_store_roots", "CREATE TABLE IF NOT EXISTS t_roots (n INTEGER)")
    for n in range(6):
        root = tmp_path / f"root{n}"
        root.mkdir()
        monkeypatch.setenv("PYCOMPOSE_ROOT", str(root))
        with store.transaction() as db:
            db.execute("INSERT INTO t_roots VALUES (1)")
        assert queue_files() == [str(root / "state.db-queue")]


def test_a_forked_child_does_not_keep_the_queue_lock(state_root: Path) -> None:
    """The child of a process inside a write transaction closes its copy of the queue lock
    descriptor: otherwise the lock would outlive the parent while the child runs."""
    import os

    store.register_schema("test_store_fork", "CREATE TABLE IF NOT EXISTS t_fork (n INTEGER)")
    with store.transaction() as db:
        db.execute("INSERT INTO t_fork VALUES (1)")
        pid = os.fork()
        if pid == 0:
            kept = 0
            for fd in os.listdir("/proc/self/fd"):
                try:
                    kept += os.readlink(f"/proc/self/fd/{fd}").endswith("state.db-queue")
                except OSError:
                    pass
            os._exit(kept)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_forked_child_leaves_a_reused_queue_descriptor_number_alone(
        state_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread that switched state roots closed the old queue descriptor; before it forgot
    the number, another thread's ``os.pipe()`` got that number and forked a child (a
    supervisor being started). The child must not close the pipe: it then exited before it
    could say it was ready (a CI run failed so)."""
    queue = os.open(state_root / "old-queue", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    st = os.fstat(queue)
    monkeypatch.setitem(store._queue_fds, "old", (queue, st.st_dev, st.st_ino))
    read_end, write_end = os.pipe()
    os.dup2(read_end, queue)  # the number is the pipe's now: the queue file is closed
    try:
        pid = os.fork()
        if pid == 0:
            try:
                os.fstat(queue)
                os._exit(0)
            except OSError:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        for fd in (read_end, write_end, queue):
            os.close(fd)


def _in_thread(fn):  # type: ignore[no-untyped-def]
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_an_ended_threads_connection_serves_the_next_thread(state_root: Path) -> None:
    """A thread's connection goes to a pool when the thread ends; the next thread takes it
    instead of opening one (~0.7 ms each, per thread of a supervisor or a command)."""
    store.connect()
    opened: list[str] = []
    real_open = store._open

    def counting_open(path: str) -> sqlite3.Connection:
        opened.append(path)
        return real_open(path)

    store._open = counting_open  # type: ignore[assignment]
    try:
        first = _in_thread(store.connect)
        second = _in_thread(store.connect)
        # and it works from its new thread (check_same_thread is off for pooled ones)
        assert _in_thread(lambda: store.connect().execute("SELECT 1").fetchone()[0]) == 1
    finally:
        store._open = real_open  # type: ignore[assignment]
    assert first is second
    assert len(opened) == 1


def test_a_connection_left_inside_a_transaction_is_not_reused(state_root: Path) -> None:
    store.register_schema("test_pool", "CREATE TABLE IF NOT EXISTS t_pool (k TEXT)")
    store.connect()

    def dies_in_a_transaction() -> sqlite3.Connection:
        conn = store.connect()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t_pool VALUES ('lost')")
        return conn

    left = _in_thread(dies_in_a_transaction)
    assert _in_thread(store.connect) is not left
    with pytest.raises(sqlite3.ProgrammingError):  # closed, which rolled it back
        left.execute("SELECT 1")
    # its write was never committed, and the write lock went with it
    with store.transaction() as db:
        db.execute("INSERT INTO t_pool VALUES ('kept')")
    rows = store.connect().execute("SELECT k FROM t_pool").fetchall()
    assert [r[0] for r in rows] == ["kept"]


def test_pooled_connections_to_a_removed_database_are_dropped(state_root: Path) -> None:
    path = str(store.db_path())
    store.connect()
    stale = _in_thread(store.connect)
    assert stale in store._pool.get(path, [])
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    assert _in_thread(store.connect) is not stale
    assert stale not in store._pool.get(path, [])
    assert Path(path).exists()


def _database_descriptors() -> set[str]:
    """The state databases (and their -wal/-shm) this process has descriptors open to."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if "state.db" in target:
            found.add(target.split("/state.db")[0])
    return found


def test_a_process_going_through_many_state_roots_keeps_few_open(tmp_path: Path) -> None:
    """A test session or a program making throwaway stacks goes through many state roots:
    connections (this thread's and the idle ones of ended threads) to the least recently used
    databases are closed, so descriptors stay bounded; using such a root again reopens it."""
    roots = [tmp_path / f"root{i}" for i in range(store._MAX_DATABASES + 3)]
    first = store.connect(roots[0])
    first.execute("CREATE TABLE IF NOT EXISTS t_many (k TEXT)")
    first.execute("INSERT INTO t_many VALUES ('kept')")
    for root in roots:
        store.connect(root)
        _in_thread(lambda r=root: store.connect(r))  # an ended thread's idle connection
    mine = {p for p in _database_descriptors() if p.startswith(str(tmp_path))}
    assert mine == {str(r) for r in roots[-store._MAX_DATABASES:]}
    with pytest.raises(sqlite3.ProgrammingError):
        first.execute("SELECT 1")  # closed when let go
    again = store.connect(roots[0])
    assert again.execute("SELECT k FROM t_many").fetchall()[0][0] == "kept"


def test_a_database_in_use_through_a_cached_connection_stays_recent(tmp_path: Path) -> None:
    """Recency counts every use, not only new connections: a root this thread keeps using is
    not the one let go when others come and go in other threads."""
    roots = [tmp_path / f"root{i}" for i in range(store._MAX_DATABASES + 1)]
    mine = store.connect(roots[0])
    for root in roots[1:-1]:
        _in_thread(lambda r=root: store.connect(r))
    assert store.connect(roots[0]) is mine  # a cached connection, used again
    _in_thread(lambda: store.connect(roots[-1]))  # one more database: one goes
    assert str(store.db_path(roots[0])) in store._recent
    assert str(store.db_path(roots[1])) not in store._recent
    mine.execute("SELECT 1")

