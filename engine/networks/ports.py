"""Published ports: DNAT from the host to a container, recorded in the store.

Connections from the host itself to 127.0.0.1:<port> are DNATed in nat OUTPUT and, because the
bridge has ``route_localnet=1``, routed to the container with a masqueraded source. We chose
this over a userland proxy (docker-proxy) because it needs no process per port, keeps the
client's address for remote clients, and handles UDP the same way as TCP.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Sequence
from pathlib import Path

from engine.errors import Conflict
from engine.networks import firewall, rules, state
from engine.networks.model import HOST_BINDING_OPT, NetworkError, PortBinding
from engine.rootless.detect import rootless
from engine.store import loads

log = logging.getLogger(__name__)

ANY = "0.0.0.0"


def publish_ports(container_id: str, bindings: Sequence[PortBinding]) -> list[PortBinding]:
    """Publish ``bindings`` for the container; return them with the host ports actually used."""
    if not bindings:  # most containers: no iptables handle, no lock (up calls this for all)
        return []
    target = _target_endpoint(container_id)
    if target is None:  # only internal networks (or none): nothing can reach it, like docker
        if bindings:
            log.warning("%s: ports not published: no endpoint on a non-internal IPv4 network",
                        container_id[:12])
        return []
    opts = loads(target["spec"]).get("driver_opts", {})
    result: list[PortBinding] = []
    with state.write() as wconn:
        for b in bindings:
            host_ip = _host_ip(b.host_ip or opts.get(HOST_BINDING_OPT, ""))
            if host_ip is None:  # IPv6 binding: our firewall backend is IPv4-only for now
                log.info("skipping IPv6 host binding %s for port %s", b.host_ip, b.container_port)
                continue
            port = b.host_port or _ephemeral_port(wconn, b.protocol, host_ip)
            _check_free(wconn, b.protocol, host_ip, port)
            wconn.execute("INSERT INTO net_ports VALUES (?,?,?,?,?,?,?)",
                          (b.protocol, host_ip, port, container_id, b.container_port,
                           target["ipv4"], target["network_id"]))
            result.append(PortBinding(b.container_port, port, host_ip, b.protocol))
    _apply(container_id)
    if rootless():
        _forward_from_host(container_id)
    return result


def _forward_from_host(container_id: str, *, strict: bool = True) -> None:
    """Rootless: the host's side of the container's ports (bound by the rootless daemon)."""
    from engine.errors import EngineError
    from engine.rootless.hostports import forward

    rows = state.db().execute("SELECT * FROM net_ports WHERE container_id = ?",
                              (container_id,)).fetchall()
    try:
        forward(container_id, rows)
    except EngineError:
        if not strict:  # removing: the daemon may be gone already, with its sockets
            return
        unpublish_ports(container_id)
        raise


def _target_endpoint(container_id: str):  # type: ignore[no-untyped-def]
    rows = state.db().execute(
        "SELECT e.ipv4, e.network_id, n.spec, n.bridge FROM net_endpoints e JOIN net_networks n"
        " ON n.id = e.network_id WHERE e.container_id = ? AND e.ipv4 IS NOT NULL"
        " ORDER BY e.gw_priority DESC, e.seq", (container_id,)).fetchall()
    for row in rows:
        if not loads(row["spec"]).get("internal"):
            return row
    return None


def _host_ip(text: str) -> str | None:
    if text in ("", ANY):
        return ANY
    addr = ipaddress.ip_address(text)
    return str(addr) if addr.version == 4 else None


def _check_free(conn, protocol: str, host_ip: str, port: int) -> None:  # type: ignore[no-untyped-def]
    rows = conn.execute("SELECT host_ip FROM net_ports WHERE protocol = ? AND host_port = ?",
                        (protocol, port)).fetchall()
    if any(r[0] in (ANY, host_ip) or host_ip == ANY for r in rows):
        raise Conflict(f"port {host_ip}:{port}/{protocol} is already allocated",
                       step="publish ports")
    taken = firewall.published(protocol)
    if any(p == port and (dst in ("0.0.0.0", host_ip) or host_ip == ANY) for dst, p in taken):
        raise Conflict(f"port {host_ip}:{port}/{protocol} is already published by another"
                       " pycompose state root", step="publish ports")
    if not _bindable(protocol, host_ip, port):
        raise Conflict(f"port {host_ip}:{port}/{protocol} is in use on the host",
                       step="publish ports")


def _bindable(protocol: str, host_ip: str, port: int) -> bool:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host_ip, port))
        except OSError:
            return False
    return True


def _ephemeral_port(conn, protocol: str, host_ip: str) -> int:  # type: ignore[no-untyped-def]
    low, high = _local_port_range()
    used = {r[0] for r in conn.execute("SELECT host_port FROM net_ports WHERE protocol = ?",
                                       (protocol,))}
    start = low + (hash((protocol, host_ip, len(used))) % (high - low))
    for offset in range(high - low):
        port = low + (start - low + offset) % (high - low)
        if port not in used and _bindable(protocol, host_ip, port):
            return port
    raise NetworkError("no free ephemeral host port", step="publish ports")


def _local_port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _apply(container_id: str) -> None:
    """Make the container's rules match its rows in one batch."""
    rows = state.db().execute(
        "SELECT p.*, n.bridge FROM net_ports p JOIN net_networks n ON n.id = p.network_id"
        " WHERE p.container_id = ?", (container_id,)).fetchall()
    tag = rules.container_tag(container_id)
    if not rows:
        firewall.remove_tags([tag])
        return
    wanted = [r for row in rows for r in rules.port_rules(
        container_id, row["bridge"], row["container_ip"], host_ip=row["host_ip"],
        host_port=row["host_port"], container_port=row["container_port"],
        protocol=row["protocol"])]
    firewall.replace_rules(tag, wanted)


def unpublish_ports(container_id: str, network_id: str | None = None) -> None:
    """Remove the container's published ports (only those on ``network_id`` if given)."""
    if state.db().execute("SELECT 1 FROM net_ports WHERE container_id = ? LIMIT 1",
                          (container_id,)).fetchone() is None:
        return  # (most containers publish none: no write queued behind the others)
    with state.write() as conn:
        if network_id is None:
            cur = conn.execute("DELETE FROM net_ports WHERE container_id = ?", (container_id,))
        else:
            cur = conn.execute("DELETE FROM net_ports WHERE container_id = ? AND network_id = ?",
                               (container_id, network_id))
    if cur.rowcount:
        _apply(container_id)
        if rootless():
            _forward_from_host(container_id, strict=False)


