"""The ``containers`` table: one row per container, written before any kernel object exists
(write-ahead), updated by the CLI and by the container's shim."""
from __future__ import annotations

import dataclasses
import enum
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import store
from engine.containers import states
from engine.containers.spec import (
    ContainerInfo,
    ContainerSpec,
    DeviceMapping,
    Mount,
    MountType,
    NetworkMode,
    Resources,
    State,
)
from engine.errors import Conflict, NotFound

store.register_schema("containers", """
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    labels TEXT NOT NULL,
    spec TEXT NOT NULL,
    runtime TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    started_at TEXT NOT NULL DEFAULT '',
    finished_at TEXT NOT NULL DEFAULT '',
    pid INTEGER NOT NULL DEFAULT 0,
    pid_start INTEGER NOT NULL DEFAULT 0,
    shim_pid INTEGER NOT NULL DEFAULT 0,
    shim_start INTEGER NOT NULL DEFAULT 0,
    exit_code INTEGER,
    oom_killed INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    restart_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS containers_state ON containers(state)
""")

_UPDATABLE = {"runtime", "started_at", "finished_at", "pid", "pid_start", "shim_pid",
              "shim_start", "exit_code", "oom_killed", "error", "restart_count"}


def now() -> str:
    """RFC 3339 UTC timestamp with microseconds."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def spec_to_json(spec: ContainerSpec) -> dict[str, Any]:
    """A JSON-able form of a spec (paths and enums as strings)."""
    def convert(value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, Path):
            return str(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value
    out: dict[str, Any] = convert(spec)
    return out


def spec_from_json(data: dict[str, Any]) -> ContainerSpec:
    """Inverse of :func:`spec_to_json`."""
    d = dict(data)
    d["layers"] = tuple(Path(p) for p in d.get("layers", ()))
    d["rootfs"] = Path(d["rootfs"]) if d.get("rootfs") else None
    d["mounts"] = tuple(Mount(**{**m, "type": MountType(m["type"]),
                                 "lower": tuple(m.get("lower", ()))})
                        for m in d.get("mounts", ()))
    res: dict[str, Any] = {k: tuple(tuple(x) for x in v) if isinstance(v, list) else v
                           for k, v in d.get("resources", {}).items()}  # JSON lists -> pairs
    d["resources"] = Resources(**res)
    d["devices"] = tuple(DeviceMapping(**m) for m in d.get("devices", ()))
    d["network_mode"] = NetworkMode(d.get("network_mode", "none"))
    d["ulimits"] = {k: (int(v[0]), int(v[1])) for k, v in d.get("ulimits", {}).items()}
    for key in ("argv", "env", "group_add", "cap_add", "cap_drop"):
        d[key] = tuple(d.get(key, ()))
    return ContainerSpec(**d)


def insert(cid: str, spec: ContainerSpec) -> ContainerInfo:
    """Record a new container (state created); Conflict when the name is taken."""
    try:
        with store.transaction() as conn:
            conn.execute(
                "INSERT INTO containers (id, name, state, labels, spec, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (cid, spec.name, State.CREATED.value, store.dumps(spec.labels),
                 store.dumps(spec_to_json(spec)), now()))
    except sqlite3.IntegrityError:
        raise Conflict(f'the container name "{spec.name}" is already in use', step="create",
                       obj=spec.name) from None
    return get(cid)


def update(cid: str, **fields: Any) -> None:
    """Set columns of one row (not ``state``: see :func:`transition`)."""
    _check_columns(fields)
    _set(store.connect(), cid, fields)


def transition(cid: str, target: State, **fields: Any) -> State:
    """Move the row to ``target`` and set ``fields`` in one transaction, if the lifecycle
    table allows it from the state the row has *now*; return that previous state.
    Conflict when the table forbids it, NotFound when the row is gone."""
    with store.transaction() as conn:
        row = conn.execute("SELECT state, name FROM containers WHERE id = ?",
                           (cid,)).fetchone()
        if row is None:
            raise NotFound("no such container", step=target.value, obj=cid)
        current = State(row["state"])
        states.check_transition(current, target, row["name"])
        _check_columns(fields)
        _set(conn, cid, {**fields, "state": target})
    return current


def _check_columns(fields: dict[str, Any]) -> None:
    bad = set(fields) - _UPDATABLE
    if bad:
        raise ValueError(f"containers row: cannot set {', '.join(sorted(bad))} this way")


def _set(conn: sqlite3.Connection, cid: str, fields: dict[str, Any]) -> None:
    cols = ", ".join(f"{k} = ?" for k in fields)
    values = [v.value if isinstance(v, enum.Enum) else v for v in fields.values()]
    with store.transaction(conn):
        conn.execute(f"UPDATE containers SET {cols} WHERE id = ?", (*values, cid))


def remove(cid: str) -> None:
    """Forget a container."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM containers WHERE id = ?", (cid,))


def get(ref: str) -> ContainerInfo:
    """The row for an id, a unique id prefix or a name; NotFound otherwise."""
    conn = store.connect()
    rows = conn.execute("SELECT * FROM containers WHERE id = ? OR name = ?", (ref, ref)).fetchall()
    if not rows and len(ref) >= 3:
        rows = conn.execute("SELECT * FROM containers WHERE id LIKE ?", (ref + "%",)).fetchall()
    if len(rows) > 1:
        exact = [r for r in rows if r["id"] == ref or r["name"] == ref]
        rows = exact[:1] if exact else rows
    if len(rows) != 1:
        why = "is ambiguous" if rows else "does not exist"
        raise (Conflict if rows else NotFound)(f"no such container ({why})", step="inspect",
                                               obj=ref)
    return _info(rows[0])


def all_rows() -> list[ContainerInfo]:
    """Every container, oldest first."""
    conn = store.connect()
    return [_info(r) for r in conn.execute("SELECT * FROM containers ORDER BY created_at")]


def raw(cid: str) -> sqlite3.Row:
    """The full row, including shim bookkeeping columns."""
    row = store.connect().execute("SELECT * FROM containers WHERE id = ?", (cid,)).fetchone()
    if row is None:
        raise NotFound("no such container", step="inspect", obj=cid)
    return row


def _info(row: sqlite3.Row) -> ContainerInfo:
    return ContainerInfo(
        id=row["id"], name=row["name"], state=State(row["state"]),
        labels=store.loads(row["labels"]), created_at=row["created_at"], pid=row["pid"],
        exit_code=row["exit_code"], oom_killed=bool(row["oom_killed"]), error=row["error"],
        started_at=row["started_at"], finished_at=row["finished_at"],
        restart_count=row["restart_count"], runtime=row["runtime"],
        spec=store.loads(row["spec"]))
