"""Published ports, rootless: the host side of each port is a socket the rootless daemon binds
in the host's network namespace (see :mod:`engine.rootless.forwards`); the rules the rootful
path installs inside the rootless network namespace stay as they are.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import Conflict, EngineError, MissingPrivilege
from engine.rootless import join


def forward(container_id: str, rows: Iterable[Mapping[str, Any]]) -> list[int]:
    """Make the host forward exactly ``rows`` (net_ports rows) of the container; return the
    host ports in row order. Errors name the port: in use (Conflict), below the unprivileged
    port start (MissingPrivilege)."""
    wanted = [{"protocol": r["protocol"], "host_ip": r["host_ip"], "host_port": r["host_port"],
               "target_ip": r["container_ip"], "target_port": r["container_port"]}
              for r in rows]
    reply = join.request({"op": "set", "container": container_id, "ports": wanted})
    if "error" in reply:
        kind = {"conflict": Conflict, "privilege": MissingPrivilege}.get(reply.get("kind", ""),
                                                                         EngineError)
        raise kind(str(reply["error"]), step="publish ports", obj=container_id[:12])
    return [int(p) for p in reply.get("ports", [])]
