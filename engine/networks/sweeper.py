"""Crash recovery and teardown: remove kernel objects whose owner is gone.

Everything we create is recorded first (write-ahead) and named from its owner, so the store
alone tells what may exist. Only objects recorded in *this* state root are touched: other state
roots (other test runs, other users of the machine) keep theirs.
"""
from __future__ import annotations

import logging
from pathlib import Path

from engine.networks import dns_control, link, netns, ports, state
from engine.networks.network import destroy_network_objects, remove_network
from engine.networks.sandbox import remove_sandbox

log = logging.getLogger(__name__)

_UNFINISHED = (state.CREATING, state.REMOVING)


def sweep() -> int:
    """Finish or undo operations whose process died midway; return how many were cleaned."""
    conn = state.db()
    cleaned = 0
    for ep in conn.execute("SELECT * FROM net_endpoints WHERE state = ?", (state.CREATING,)):
        if not state.pid_alive(ep["pid"]):
            link.delete_link(ep["host_ifname"])
            with state.write() as w:
                w.execute("DELETE FROM net_endpoints WHERE container_id = ? AND network_id = ?",
                          (ep["container_id"], ep["network_id"]))
            cleaned += 1
    for sbx in conn.execute("SELECT * FROM net_sandboxes").fetchall():
        if sbx["state"] in _UNFINISHED and not state.pid_alive(sbx["pid"]):
            remove_sandbox(sbx["container_id"])
            cleaned += 1
    for net in conn.execute("SELECT * FROM net_networks").fetchall():
        if net["state"] in _UNFINISHED and not state.pid_alive(net["pid"]):
            destroy_network_objects(net["id"], net["bridge"])
            with state.write() as w:
                w.execute("DELETE FROM net_endpoints WHERE network_id = ?", (net["id"],))
                w.execute("DELETE FROM net_networks WHERE id = ?", (net["id"],))
            cleaned += 1
    return cleaned


def cleanup_all() -> None:
    """Remove every sandbox, endpoint, published port and network of this state root, then
    stop the DNS daemon (used by test finalizers and full teardowns)."""
    conn = state.db()
    for sbx in conn.execute("SELECT container_id, path FROM net_sandboxes").fetchall():
        try:
            remove_sandbox(sbx["container_id"])
        except Exception:  # keep going: the netns may be half gone already
            log.exception("removing sandbox %s", sbx["container_id"][:12])
            netns.remove_netns(Path(sbx["path"]))
    for row in conn.execute("SELECT DISTINCT container_id FROM net_ports").fetchall():
        ports.unpublish_ports(row[0])
    for ep in conn.execute("SELECT * FROM net_endpoints").fetchall():
        link.delete_link(ep["host_ifname"])
    with state.write() as w:
        w.execute("DELETE FROM net_endpoints")
        w.execute("DELETE FROM net_sandboxes")
    for net in conn.execute("SELECT id, bridge FROM net_networks").fetchall():
        try:
            remove_network(net["id"])
        except Exception:
            log.exception("removing network %s", net["id"][:12])
            destroy_network_objects(net["id"], net["bridge"])
    dns_control.stop()
