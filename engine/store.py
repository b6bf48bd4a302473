"""The engine's SQLite state store (one database per state root, WAL, short transactions).

Each engine module owns its tables: it declares them with :func:`register_schema` at import time
and reads/writes them through :func:`connect` and :func:`transaction`. Two CLI processes acting at
once are safe: every write happens inside ``BEGIN IMMEDIATE`` (one writer at a time, readers never
blocked under WAL), and the busy timeout makes the second writer wait instead of failing.

Write-ahead rule for kernel objects: insert the row (state ``creating``) *before* creating the
bridge / veth / mount / cgroup, so a cleanup after a crash finds it.
"""
from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.paths import ensure_dir, state_root

_SCHEMAS: dict[str, str] = {}
_local = threading.local()
# The process whose SQLite library state is trustworthy: the one that opened the first
# connection. A forked child inherits SQLite's process-wide lock and file-descriptor tables
# (including descriptors parked for reuse after a thread's connection closed); a connection it
# opens shares them, reads or writes the wrong file and can checkpoint and delete the WAL.
_sqlite_pid: int | None = None
_BUSY_TIMEOUT_MS = 30_000
# Write transactions of this process's threads queue on this lock and start the moment the
# previous one commits; meeting in SQLite's busy handler instead, they would sleep 1, 2, 5,
# 10, 15... ms between looks (writers of other processes still do). Bounded like the busy
# timeout, after which SQLite's own waiting takes over.
_writers = threading.Lock()
_QUEUE_TIMEOUT_S = _BUSY_TIMEOUT_MS / 1000


# ... and across processes, on an flock of ``state.db-queue``: a shim recording its container's
# exit while a ``down``'s threads write one transaction after another was otherwise left to
# SQLite's busy handler, which sleeps 1, 2, 5 ... 100 ms between looks (a 50-container
# ``down`` saw 19 ms at the 90th percentile, 81 ms at worst, each on its level's critical
# path). An flock waiter is woken the moment the lock is free, and the lock goes with its
# holder's death. It only orders writers: SQLite's own locking still guarantees consistency
# (a writer that could not queue, or a connection this module did not open, goes straight to
# BEGIN IMMEDIATE). Descriptors are per process: a child forked with os.fork closes its
# copies (below); one made otherwise cannot use the store at all (connect() refuses).
# path -> (descriptor, st_dev, st_ino): a forked child closes a descriptor only while it is
# still that file (another thread may have closed it and had its number reused just before
# the fork: a pipe being handed to a daemon, once)
_queue_fds: dict[str, tuple[int, int, int]] = {}
_conn_paths: dict[int, str] = {}  # id(connection) -> its database file, recorded by connect()


def _fresh_writers_lock() -> None:  # a forked child has none of its parent's other threads
    global _writers
    _writers = threading.Lock()
    # nor its queue lock: a copy of the descriptor would keep a lock the parent holds alive
    # past the parent's death for as long as the child runs
    for fd, dev, ino in _queue_fds.values():
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) == (dev, ino):
                os.close(fd)
        except OSError:
            pass
    _queue_fds.clear()


os.register_at_fork(after_in_child=_fresh_writers_lock)


def register_schema(owner: str, ddl: str) -> None:
    """Declare the tables of one module (``CREATE TABLE IF NOT EXISTS ...`` statements)."""
    _SCHEMAS[owner] = ddl


def db_path(root: Path | None = None) -> Path:
    """Return the path of the state database under ``root`` (default: the state root)."""
    return (root or state_root()) / "state.db"


_db_paths: dict[Path, str] = {}  # state root -> its database's path (connect() runs per access)


def connect(root: Path | None = None) -> sqlite3.Connection:
    """Return this thread's connection to the state database, creating tables as needed.

    Connections are cached per thread and per database path, so the state root can change
    between tests.
    """
    global _sqlite_pid
    if _sqlite_pid is None:
        _sqlite_pid = os.getpid()
    elif _sqlite_pid != os.getpid():
        raise RuntimeError("the state store cannot be used in a forked child of a process that "
                           "used it (SQLite state does not survive fork); exec a fresh "
                           "interpreter instead")
    base = root or state_root()
    path = _db_paths.get(base)
    if path is None:
        path = _db_paths[base] = str(db_path(base))
    held = _local.__dict__.get("held")
    if held is None:
        held = _local.held = _Held()
    cache = held.conns
    conn = cache.get(path)
    if conn is None or not os.path.exists(path):
        conn = None if not os.path.exists(path) else _from_pool(path)
        if conn is None:
            conn = _open(path)
        cache[path] = conn
        _used_recently(path, cache)
    elif _newest[0] != path:  # (a process with one database never takes the lock here)
        _used_recently(path, cache)
    _apply_schemas(conn, path)
    return conn


# The databases this process keeps connections to, the most recently taken last. A process
# that goes through many state roots (a test session, a program making throwaway stacks with
# the Python API) otherwise kept each one's descriptors (the database, its -wal and -shm, for
# each pooled connection) open for good: a test session reached descriptor 1024.
_MAX_DATABASES = 4
_recent: dict[str, None] = {}
_newest: list[str | None] = [None]  # its last key, read without the lock


def _used_recently(path: str, cache: dict[str, sqlite3.Connection]) -> None:
    """Note that this thread took a connection to ``path``. Past :data:`_MAX_DATABASES`, the
    least recently taken database is let go: the idle connections of ended threads to it
    close, and each thread closes its own at its next new connection (one inside a
    transaction at a later one). A caller still holding a connection to it across four
    other databases' use would find it closed: only a program that switches state roots
    can, and it connects again."""
    with _pool_lock:
        _recent.pop(path, None)
        _recent[path] = None
        _newest[0] = path
        idle: list[sqlite3.Connection] = []
        while len(_recent) > _MAX_DATABASES:
            oldest = next(iter(_recent))
            del _recent[oldest]
            idle += _pool.pop(oldest, [])
            _applied_by_path.pop(oldest, None)
        gone = [other for other in cache if other not in _recent]
    for other in gone:
        conn = cache[other]
        if conn.in_transaction:  # still in use by this thread: let go at a later new one
            continue
        del cache[other]
        _close(conn)
    for conn in idle:
        _close(conn)


def _open(path: str) -> sqlite3.Connection:
    ensure_dir(Path(path).parent)
    if not os.path.exists(path):
        _applied_by_path[path] = set()  # a new database: its tables are still to create
        with _pool_lock:
            _pool.pop(path, None)  # connections to a removed file of that name
    # check_same_thread off: a connection moves to another thread only through the pool,
    # never in use by two at once
    conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.row_factory = sqlite3.Row
    _ensure_wal(conn)
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    _conn_paths[id(conn)] = path
    return conn


# Connections of threads that ended, per database file, for the next thread to take. Opening
# one costs a thread ~0.7 ms (file, WAL index, pragmas), and more with many threads starting
# at once: a supervisor watching 50 containers starts two threads per container, and 50 such
# threads spent 70 ms of CPU on their first read of the store.
_pool: dict[str, list[sqlite3.Connection]] = {}
_pool_lock = threading.Lock()
_POOL_MAX = 64


class _Held:
    """A thread's connections (path -> connection). Python drops a thread's ``threading.local``
    values when the thread ends; this object then hands its connections to the pool."""

    __slots__ = ("conns",)

    def __init__(self) -> None:
        self.conns: dict[str, sqlite3.Connection] = {}

    def __del__(self) -> None:
        for path, conn in self.conns.items():
            _release(path, conn)
        self.conns = {}


def lend() -> None:
    """This thread is about to block for long (a wait for a container's exit): its
    connections go to the pool meanwhile, and its next :func:`connect` takes one again. A
    supervisor's 50 exit watchers then share a few connections instead of holding 50. The
    caller must not be iterating a cursor of its connection (its read would hold a snapshot
    that the next borrower would read in)."""
    held = _local.__dict__.get("held")
    if held is None:
        return
    for path, conn in list(held.conns.items()):
        if not conn.in_transaction:
            del held.conns[path]
            _release(path, conn)


def _from_pool(path: str) -> sqlite3.Connection | None:
    with _pool_lock:
        idle = _pool.get(path)
        return idle.pop() if idle else None


def _release(path: str, conn: sqlite3.Connection) -> None:
    """Keep an ended thread's connection for another (closed when the pool is full, or left
    open and referenced in a forked child: see :func:`forget_connections`)."""
    try:
        if os.getpid() != _sqlite_pid:
            _abandoned.append(conn)
            return
        if conn.in_transaction:  # (a thread that died inside one: nothing may reuse it)
            _close(conn)
            return
        with _pool_lock:  # (not for a database let go meanwhile)
            idle = _pool.setdefault(path, []) if path in _recent else None
            if idle is not None and len(idle) < _POOL_MAX:
                idle.append(conn)
                return
        _close(conn)
    except Exception:  # noqa: BLE001 - a finalizer (interpreter shutdown included)
        pass


def _close(conn: sqlite3.Connection) -> None:
    _conn_paths.pop(id(conn), None)
    conn.close()


def _ensure_wal(conn: sqlite3.Connection) -> None:
    # Switching to WAL takes an exclusive lock without waiting for the busy timeout, so two
    # threads opening a brand-new database at once can collide: retry briefly. The mode is
    # persistent, so later connections find it set and skip the switch.
    for attempt in range(200):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 199:
                raise
            time.sleep(0.01)


def _apply_schemas(conn: sqlite3.Connection, path: str) -> None:
    """Create what this process's modules declared and the database lacks. When every table
    and index they name exists already (one read of ``sqlite_master``), no write transaction
    is taken: every shim, supervisor and command opens the store, and each such transaction
    queued behind the other writers of a busy ``up``."""
    done = _applied_by_path.setdefault(path, set())
    pending = [owner for owner in _SCHEMAS if owner not in done]
    if not pending:
        return
    names = [_declared_names(_SCHEMAS[owner]) for owner in pending]
    missing = pending
    if all(n is not None for n in names):
        present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        missing = [owner for owner, n in zip(pending, names, strict=True)
                   if not n or not n <= present]
    if missing:
        with transaction(conn):
            for owner in missing:
                for stmt in _split_sql(_SCHEMAS[owner]):
                    conn.execute(stmt)
    done.update(pending)


_CREATE = re.compile(r"CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+IF\s+NOT\s+EXISTS\s+(\w+)\b",
                     re.IGNORECASE)


@functools.cache
def _declared_names(ddl: str) -> frozenset[str] | None:
    """The tables and indexes ``ddl`` creates; None when a statement is anything but a
    ``CREATE TABLE/INDEX IF NOT EXISTS`` (then it is always run)."""
    names = set()
    for stmt in _split_sql(ddl):
        match = _CREATE.match(stmt)
        if match is None:
            return None
        names.add(match.group(1))
    return frozenset(names)


# Which owners' tables this process has made sure of, per database file: a thread's first
# connection then skips even the read of sqlite_master (a 50-container ``down`` opens ~60
# connections, one per thread).
_applied_by_path: dict[str, set[str]] = {}


def _split_sql(ddl: str) -> list[str]:
    return [s.strip() for s in ddl.split(";") if s.strip()]


@contextmanager
def transaction(conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
    """Run a block in one write transaction (``BEGIN IMMEDIATE``); commit or roll back."""
    conn = conn or connect()
    if conn.in_transaction:  # nested: join the outer transaction
        yield conn
        return
    queued = _writers.acquire(timeout=_QUEUE_TIMEOUT_S)
    queue = _queue_lock(conn) if queued else None
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if queue is not None:
            fcntl.flock(queue, fcntl.LOCK_UN)
        if queued:
            _writers.release()


def _queue_lock(conn: sqlite3.Connection) -> int | None:
    """Take this database's cross-process writer queue (see ``_queue_fds``); its descriptor,
    or None when there is none to take (the write then meets the others in SQLite)."""
    path = _conn_paths.get(id(conn))
    if path is None:
        return None
    entry = _queue_fds.get(path)
    try:
        if entry is None:
            stale = list(_queue_fds.values())  # one state root at a time (tests switch roots);
            _queue_fds.clear()                 # none is locked: we hold _writers
            for other, _, _ in stale:
                os.close(other)
            fd = os.open(path + "-queue", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            st = os.fstat(fd)
            entry = _queue_fds[path] = (fd, st.st_dev, st.st_ino)
        fd = entry[0]
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        return None
    return fd


def dumps(value: Any) -> str:
    """Serialize a JSON column value (sorted keys, so equal values compare equal)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def loads(text: str | None) -> Any:
    """Parse a JSON column value (``None`` stays ``None``)."""
    return None if text is None else json.loads(text)


# Connections inherited over fork(): kept referenced so they are never finalized (closing one
# could make SQLite believe it is the last user and checkpoint/unlink the shared WAL).
_abandoned: list[Any] = []


def forget_connections() -> None:
    """Park this process's cached connections (call in a forked child: an SQLite connection
    must not cross fork). They are kept referenced, never closed; the child must leave with
    ``os._exit`` and must not open new ones either (:func:`connect` refuses)."""
    _abandoned.append(dict(_local.__dict__))
    _local.__dict__.clear()
    with _pool_lock:  # (a child has no use for them either; never closed)
        _abandoned.append(dict(_pool))
        _pool.clear()
    _applied_by_path.clear()  # (the child opens none: kept consistent all the same)
