"""The networks package's tables in the state store (networks, sandboxes, endpoints = leases,
published ports).

Rows are written *before* the kernel objects they describe (state ``creating`` and the pid of the
creator), so a sweep after a crash finds every bridge, veth and netns mount by name.
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from engine.store import connect, register_schema, transaction

OWNER = "networks"

register_schema(OWNER, """
CREATE TABLE IF NOT EXISTS net_networks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    bridge TEXT NOT NULL,
    spec TEXT NOT NULL,
    subnet4 TEXT, gateway4 TEXT, subnet6 TEXT, gateway6 TEXT,
    mtu INTEGER NOT NULL,
    state TEXT NOT NULL,
    pid INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS net_sandboxes (
    container_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    upstreams TEXT NOT NULL DEFAULT '[]',
    state TEXT NOT NULL,
    pid INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS net_endpoints (
    container_id TEXT NOT NULL,
    network_id TEXT NOT NULL REFERENCES net_networks(id),
    ifname TEXT NOT NULL,
    host_ifname TEXT NOT NULL,
    ipv4 TEXT, ipv6 TEXT,
    mac TEXT NOT NULL,
    aliases TEXT NOT NULL,
    dns_names TEXT NOT NULL,
    gw_priority INTEGER NOT NULL,
    active INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    pid INTEGER NOT NULL,
    PRIMARY KEY (container_id, network_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS net_lease4 ON net_endpoints(network_id, ipv4);
CREATE UNIQUE INDEX IF NOT EXISTS net_lease6 ON net_endpoints(network_id, ipv6);
CREATE TABLE IF NOT EXISTS net_ports (
    protocol TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    host_port INTEGER NOT NULL,
    container_id TEXT NOT NULL,
    container_port INTEGER NOT NULL,
    container_ip TEXT NOT NULL,
    network_id TEXT NOT NULL,
    PRIMARY KEY (protocol, host_ip, host_port)
);
""")

CREATING = "creating"
READY = "ready"
REMOVING = "removing"


def db() -> sqlite3.Connection:
    """This thread's store connection (with our tables)."""
    return connect()


@contextmanager
def write() -> Iterator[sqlite3.Connection]:
    """One write transaction on the store."""
    with transaction(connect()) as conn:
        yield conn


def pid_alive(pid: int) -> bool:
    """Is the process that wrote a ``creating`` row still running?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_network(conn: sqlite3.Connection, name_or_id: str) -> sqlite3.Row | None:
    """Look a network up by exact name, full id or unique id prefix."""
    row = conn.execute("SELECT * FROM net_networks WHERE name = ? OR id = ?",
                       (name_or_id, name_or_id)).fetchone()
    if row is not None or len(name_or_id) < 6:
        return row
    rows = conn.execute("SELECT * FROM net_networks WHERE id LIKE ?",
                        (name_or_id + "%",)).fetchall()
    return rows[0] if len(rows) == 1 else None


def endpoints_of(conn: sqlite3.Connection, container_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM net_endpoints WHERE container_id = ? ORDER BY seq",
                        (container_id,)).fetchall()


def endpoints_on(conn: sqlite3.Connection, network_id: str) -> list[sqlite3.Row]:
    return conn.execute("SELECT * FROM net_endpoints WHERE network_id = ? ORDER BY seq",
                        (network_id,)).fetchall()


def sandbox_row(conn: sqlite3.Connection, container_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM net_sandboxes WHERE container_id = ?",
                        (container_id,)).fetchone()
