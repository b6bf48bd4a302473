"""The DNS daemon's read-only snapshot of the store: sandboxes, their networks, endpoints."""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.networks import state
from engine.networks.upstream import parse_upstream
from engine.networks.zone import EndpointRecord, Zone, build_zone
from engine.store import loads


@dataclass(slots=True)
class Directory:
    """Which networks each sandbox is on, and every active endpoint's names."""

    sandboxes: dict[str, list[str]]
    sandbox_paths: dict[str, str]
    upstreams: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    records: list[EndpointRecord] = field(default_factory=list)
    zones: dict[str, Zone] = field(default_factory=dict)

    def zone(self, container_id: str) -> Zone:
        """The names ``container_id`` can resolve (built once per snapshot)."""
        zone = self.zones.get(container_id)
        if zone is None:
            zone = build_zone(self.records, self.sandboxes.get(container_id, ()))
            self.zones[container_id] = zone
        return zone


def load_directory() -> Directory:
    """Read the current snapshot from the store (sandboxes with at least one endpoint)."""
    conn = state.db()
    rows = conn.execute(
        "SELECT e.container_id, e.network_id, e.ipv4, e.ipv6, e.aliases, e.dns_names,"
        " e.active, n.name AS network_name, s.path, s.upstreams FROM net_endpoints e"
        " JOIN net_networks n ON n.id = e.network_id"
        " JOIN net_sandboxes s ON s.container_id = e.container_id"
        " WHERE e.state = ? ORDER BY e.seq", (state.READY,)).fetchall()
    sandboxes: dict[str, list[str]] = {}
    paths: dict[str, str] = {}
    upstreams: dict[str, list[tuple[str, int]]] = {}
    records: list[EndpointRecord] = []
    for row in rows:
        sandboxes.setdefault(row["container_id"], []).append(row["network_id"])
        paths[row["container_id"]] = row["path"]
        servers = loads(row["upstreams"])
        if servers:
            upstreams[row["container_id"]] = [parse_upstream(s) for s in servers]
        if row["active"]:
            names = tuple(dict.fromkeys([*loads(row["dns_names"]), *loads(row["aliases"])]))
            records.append(EndpointRecord(row["container_id"], row["network_id"],
                                          row["network_name"], names, row["ipv4"], row["ipv6"]))
    return Directory(sandboxes, paths, upstreams, records)
