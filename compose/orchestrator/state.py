"""What the supervisor needs to know about each container, persisted in the engine store.

``up`` writes a row per container it creates (health config, restart policy); the supervisor
updates health status, last probe output, restart count and the "stopped by the user" flag. A
re-started supervisor re-adopts containers from these rows, and ``ps`` reads them directly, so it
works even while no supervisor runs.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from compose.orchestrator.health import HealthConfig
from compose.orchestrator.restart import PolicyName, RestartPolicy
from engine import store

store.register_schema("orchestrator", """
CREATE TABLE IF NOT EXISTS supervised (
    container_id TEXT PRIMARY KEY,
    project TEXT NOT NULL,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    health TEXT,
    restart TEXT NOT NULL,
    stopped_by_user INTEGER NOT NULL DEFAULT 0,
    restart_count INTEGER NOT NULL DEFAULT 0,
    health_status TEXT NOT NULL DEFAULT 'none',
    health_output TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS supervised_project ON supervised(project)
""")


@dataclass(frozen=True, slots=True)
class Supervised:
    """A container the project's supervisor watches (its row in the store)."""
    container_id: str
    project: str
    service: str
    name: str
    health: HealthConfig | None
    restart: RestartPolicy
    stopped_by_user: bool = False
    restart_count: int = 0
    health_status: str = "none"
    health_output: str = ""


def _health_to_json(h: HealthConfig | None) -> str | None:
    return None if h is None else store.dumps(dataclasses.asdict(h))


def _health_from_json(text: str | None) -> HealthConfig | None:
    data = store.loads(text)
    if data is None:
        return None
    data["argv"] = tuple(data["argv"])
    return HealthConfig(**data)


def _restart_to_json(p: RestartPolicy) -> str:
    return store.dumps({"name": p.name.value, "max_retries": p.max_retries, "delay": p.delay,
                        "window": p.window, **({"auto_remove": True} if p.auto_remove else {})})


def _restart_from_json(text: str) -> RestartPolicy:
    d = store.loads(text)
    return RestartPolicy(PolicyName(d["name"]), d["max_retries"], d["delay"], d["window"],
                         bool(d.get("auto_remove")))


def _from_row(row: Mapping[str, object]) -> Supervised:
    return Supervised(str(row["container_id"]), str(row["project"]), str(row["service"]),
                      str(row["name"]), _health_from_json(row["health"]),  # type: ignore[arg-type]
                      _restart_from_json(str(row["restart"])), bool(row["stopped_by_user"]),
                      int(str(row["restart_count"])), str(row["health_status"]),
                      str(row["health_output"]))


def save(s: Supervised) -> None:
    """Insert or replace the row of one container."""
    with store.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO supervised VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.container_id, s.project, s.service, s.name, _health_to_json(s.health),
             _restart_to_json(s.restart), int(s.stopped_by_user), s.restart_count,
             s.health_status, s.health_output))


def get(container_id: str) -> Supervised | None:
    """The row of one container, or None."""
    row = store.connect().execute("SELECT * FROM supervised WHERE container_id = ?",
                                  (container_id,)).fetchone()
    return None if row is None else _from_row(row)


def for_project(project: str) -> list[Supervised]:
    """Every row of a project."""
    rows = store.connect().execute("SELECT * FROM supervised WHERE project = ? ORDER BY name",
                                   (project,)).fetchall()
    return [_from_row(r) for r in rows]


def update(container_id: str, **fields: object) -> None:
    """Update some columns of one row (unknown rows are ignored)."""
    allowed = {"stopped_by_user", "restart_count", "health_status", "health_output"}
    bad = set(fields) - allowed
    if bad:
        raise ValueError(f"cannot update {sorted(bad)}")
    if not fields:
        return
    cols = ", ".join(f"{k} = ?" for k in fields)
    values = [int(v) if isinstance(v, bool) else v for v in fields.values()]
    with store.transaction() as conn:
        conn.execute(f"UPDATE supervised SET {cols} WHERE container_id = ?",
                     (*values, container_id))


def mark_stopped_by_user(container_ids: Iterable[str]) -> None:
    """Set ``stopped_by_user`` on these rows in one transaction (a stop or down of many
    containers would otherwise queue one write per container before its first stop)."""
    ids = list(container_ids)
    if not ids:
        return
    with store.transaction() as conn:
        conn.executemany("UPDATE supervised SET stopped_by_user = 1 WHERE container_id = ?",
                         [(cid,) for cid in ids])


def delete(container_id: str) -> None:
    """Forget a container (after it is removed)."""
    forget([container_id])


def forget(container_ids: Iterable[str]) -> None:
    """Forget these containers (after they are removed) in one transaction."""
    ids = [(cid,) for cid in container_ids]
    if ids:
        with store.transaction() as conn:
            conn.executemany("DELETE FROM supervised WHERE container_id = ?", ids)
