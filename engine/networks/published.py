"""The published ports of a container as recorded (a read of the store only: ``ps`` and
``port`` use it, and must not load the firewall or netlink modules to print ports)."""
from __future__ import annotations

from engine.networks import state
from engine.networks.model import PortBinding


def published_ports(container_id: str) -> list[PortBinding]:
    """The container's published ports as recorded."""
    rows = state.db().execute("SELECT * FROM net_ports WHERE container_id = ?"
                              " ORDER BY host_port", (container_id,)).fetchall()
    return [PortBinding(r["container_port"], r["host_port"], r["host_ip"], r["protocol"])
            for r in rows]
