"""Sandboxes (a container's network namespace) and their endpoints on networks.

The engine creates the sandbox *before* the runtime starts the container; the runtime joins it
by path (config.json ``linux.namespaces`` ``{"type": "network", "path": ...}``). ``network_mode:
none`` is a sandbox with only ``lo``; ``host`` has no sandbox; ``service:x``/``container:x``
reuse x's sandbox path.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from engine.errors import Conflict, NotFound
from engine.naming import veth_name
from engine.networks import dns_control, ipam, link, netns, ports, state
from engine.networks.model import EndpointInfo, EndpointSpec, IpamConfig, NetworkError
from engine.networks.network import restore_network, spec_from_json
from engine.paths import state_root
from engine.store import dumps, loads

log = logging.getLogger(__name__)


_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def sandbox_path(container_id: str) -> Path:
    """Where the sandbox of ``container_id`` (any unique key) is bind-mounted."""
    if not _KEY.fullmatch(container_id):
        raise NetworkError("sandbox key must be 1-128 of [A-Za-z0-9_.-]", step="sandbox",
                           obj=container_id)
    return state_root() / "netns" / container_id


def create_sandbox(container_id: str, *, dns_servers: Sequence[str] = ()) -> Path:
    """Create the container's network namespace (``lo`` up) and return its path.

    ``dns_servers`` (compose ``dns:``) become the embedded DNS's upstreams for this container,
    as with docker; without them the host's resolvers are used.
    """
    path = sandbox_path(container_id)
    with state.write() as conn:
        if state.sandbox_row(conn, container_id) is not None:
            raise Conflict("sandbox exists", step="create sandbox", obj=container_id)
        conn.execute("INSERT INTO net_sandboxes VALUES (?,?,?,?,?)",
                     (container_id, str(path), dumps(list(dns_servers)), state.CREATING,
                      os.getpid()))
    dns_control.start_early()
    try:
        netns.create_netns(path, netns.set_lo_up)
    except BaseException:
        netns.remove_netns(path)
        with state.write() as conn:
            conn.execute("DELETE FROM net_sandboxes WHERE container_id = ?", (container_id,))
        raise
    with state.write() as conn:
        conn.execute("UPDATE net_sandboxes SET state = ? WHERE container_id = ?",
                     (state.READY, container_id))
    return path


def remove_sandbox(container_id: str) -> None:
    """Remove every endpoint of the sandbox, its published ports, its DNS sockets, the netns."""
    conn = state.db()
    row = state.sandbox_row(conn, container_id)
    if row is None:
        raise NotFound("no such sandbox", step="remove sandbox", obj=container_id)
    with state.write() as wconn:  # write-ahead: a sweep finishes this if we die midway
        wconn.execute("UPDATE net_sandboxes SET state = ?, pid = ? WHERE container_id = ?",
                      (state.REMOVING, os.getpid(), container_id))
        # no longer ready: out of the DNS daemon's directory (its names, its sockets)
        wconn.execute("UPDATE net_endpoints SET state = ? WHERE container_id = ?",
                      (state.REMOVING, container_id))
    ports.unpublish_ports(container_id)
    for ep in state.endpoints_of(conn, container_id):
        link.delete_link(ep["host_ifname"], doomed=True)  # (the netns goes below)
    dns_control.sync(start=False)  # closes the daemon's sockets in this netns
    netns.remove_netns(Path(row["path"]))
    with state.write() as wconn:
        wconn.execute("DELETE FROM net_endpoints WHERE container_id = ?", (container_id,))
        wconn.execute("DELETE FROM net_sandboxes WHERE container_id = ?", (container_id,))


def connect(container_id: str, network: str, spec: EndpointSpec | None = None) -> EndpointInfo:
    """Attach the container's sandbox to ``network``: veth pair, addresses, route, DNS names."""
    spec = spec or EndpointSpec()
    conn = state.db()
    sbx = state.sandbox_row(conn, container_id)
    net = state.find_network(conn, network)
    if sbx is None:
        raise NotFound("no sandbox (create_sandbox first)", step="connect", obj=container_id)
    if net is None:
        raise NotFound("no such network", step="connect", obj=network)
    if link.link_exists(net["bridge"]) is False:
        restore_network(net["id"])
    info = _reserve(container_id, net, spec)
    path = Path(sbx["path"])
    try:
        link.create_veth(info.host_ifname, info.ifname, netns=path, bridge=net["bridge"],
                         mtu=net["mtu"], mac=info.mac)
        addrs = [(a, p) for a, p in ((info.ipv4, info.prefix4), (info.ipv6, info.prefix6))
                 if a and p is not None]
        link.configure_peer(path, info.ifname, addrs=addrs,
                            gateways=_gateways_if_preferred(container_id, net["id"]))
    except BaseException:
        link.delete_link(info.host_ifname)
        with state.write() as wconn:
            wconn.execute("DELETE FROM net_endpoints WHERE container_id = ? AND network_id = ?",
                          (container_id, net["id"]))
        raise
    with state.write() as wconn:
        wconn.execute("UPDATE net_endpoints SET state = ? WHERE container_id = ? AND"
                      " network_id = ?", (state.READY, container_id, net["id"]))
    dns_control.sync(start=True)
    return info


def _reserve(container_id: str, net: sqlite3.Row, spec: EndpointSpec) -> EndpointInfo:
    """Write-ahead: pick addresses and interface name and record the endpoint (``creating``)."""
    netspec = spec_from_json(loads(net["spec"]))
    cfg4, cfg6 = ipam.split_configs(netspec.ipam.configs)
    with state.write() as conn:
        mine = state.endpoints_of(conn, container_id)
        if any(ep["network_id"] == net["id"] for ep in mine):
            raise Conflict("already connected", step="connect", obj=f"{container_id[:12]}"
                           f" to {net['name']}")
        leases = conn.execute("SELECT ipv4, ipv6 FROM net_endpoints WHERE network_id = ?",
                              (net["id"],)).fetchall()
        ipv4 = _lease(net["subnet4"], net["gateway4"], cfg4, spec.ipv4_address,
                      [r[0] for r in leases if r[0]])
        ipv6 = _lease(net["subnet6"], net["gateway6"], cfg6, spec.ipv6_address,
                      [r[1] for r in leases if r[1]])
        ifname = spec.interface_name or _next_ifname([ep["ifname"] for ep in mine])
        mac = spec.mac_address or ipam.mac_for(ipv4)
        seq = (conn.execute("SELECT MAX(seq) FROM net_endpoints").fetchone()[0] or 0) + 1
        host_if = veth_name(container_id, net["id"])
        conn.execute(
            "INSERT INTO net_endpoints VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (container_id, net["id"], ifname, host_if, ipv4, ipv6, mac, dumps(list(spec.aliases)),
             dumps(list(spec.dns_names)), spec.gw_priority, int(spec.active), seq,
             state.CREATING, os.getpid()))
    return EndpointInfo(
        container_id=container_id, network_id=net["id"], network_name=net["name"],
        ifname=ifname, host_ifname=host_if, ipv4=ipv4, ipv6=ipv6, mac=mac,
        prefix4=_prefix(net["subnet4"]), prefix6=_prefix(net["subnet6"]),
        gateway4=net["gateway4"], gateway6=net["gateway6"], aliases=tuple(spec.aliases),
        dns_names=tuple(spec.dns_names))


def _lease(subnet: str | None, gateway: str | None, cfg: IpamConfig | None,
           static: str | None, leased: list[str]) -> str | None:
    if subnet is None:
        if static:
            raise NetworkError(f"network has no subnet for {static}", step="connect")
        return None
    if static and (cfg is None or not cfg.subnet):  # docker's rule: stable only if configured
        raise NetworkError(f"a static address ({static}) needs a network with a configured"
                           " ipam subnet", step="connect")
    config = IpamConfig(subnet=subnet, gateway=gateway,
                        ip_range=cfg.ip_range if cfg else None,
                        aux_addresses=cfg.aux_addresses if cfg else {})
    plan = ipam.plan_subnet(config, ipaddress.ip_network(subnet).version, [])
    used = ipam.address_numbers(leased)
    addr = ipam.check_static(plan, static, used) if static else ipam.allocate_address(plan, used)
    return str(addr)


def _prefix(subnet: str | None) -> int | None:
    return ipaddress.ip_network(subnet).prefixlen if subnet else None


def _next_ifname(taken: list[str]) -> str:
    n = 0
    while f"eth{n}" in taken:
        n += 1
    return f"eth{n}"


def _preferred(container_id: str) -> sqlite3.Row | None:
    """The endpoint that should carry the default route: highest gw_priority, then the
    earliest connected, among non-internal networks."""
    rows = state.db().execute(
        "SELECT e.ifname, e.network_id, n.gateway4, n.gateway6, n.spec FROM net_endpoints e"
        " JOIN net_networks n ON n.id = e.network_id WHERE e.container_id = ?"
        " ORDER BY e.gw_priority DESC, e.seq", (container_id,)).fetchall()
    usable = [r for r in rows if not loads(r["spec"]).get("internal")]
    return usable[0] if usable else None


def _gateways_if_preferred(container_id: str, network_id: str) -> list[str]:
    best = _preferred(container_id)
    if best is None or best["network_id"] != network_id:
        return []
    return [g for g in (best["gateway4"], best["gateway6"]) if g]


def refresh_default_route(container_id: str) -> None:
    """Point the sandbox's default routes at the preferred non-internal network
    (highest gw_priority, then the earliest connected); none if all are internal."""
    sbx = state.sandbox_row(state.db(), container_id)
    if sbx is None:
        return
    best = _preferred(container_id)
    path = Path(sbx["path"])
    link.replace_default_route(path, 4, best["gateway4"] if best else None,
                               best["ifname"] if best else "")
    if best is not None and best["gateway6"]:
        link.replace_default_route(path, 6, best["gateway6"], best["ifname"])


def disconnect(container_id: str, network: str) -> None:
    """Detach the container from ``network`` (its veth, its ports on it, its DNS names)."""
    conn = state.db()
    net = state.find_network(conn, network)
    if net is None:
        raise NotFound("no such network", step="disconnect", obj=network)
    ep = conn.execute("SELECT * FROM net_endpoints WHERE container_id = ? AND network_id = ?",
                      (container_id, net["id"])).fetchone()
    if ep is None:
        raise NotFound("not connected", step="disconnect", obj=f"{container_id[:12]} from"
                       f" {net['name']}")
    ports.unpublish_ports(container_id, network_id=net["id"])
    link.delete_link(ep["host_ifname"])
    with state.write() as wconn:
        wconn.execute("DELETE FROM net_endpoints WHERE container_id = ? AND network_id = ?",
                      (container_id, net["id"]))
    refresh_default_route(container_id)
    dns_control.sync(start=False)


def set_endpoint_active(container_id: str, active: bool) -> None:
    """Mark the container's endpoints running (names resolve) or stopped (names vanish)."""
    with state.write() as conn:
        changed = conn.execute("UPDATE net_endpoints SET active = ? WHERE container_id = ?",
                               (int(active), container_id)).rowcount
    # A name that must resolve needs a daemon: one that exited meanwhile (its last sandbox
    # went, or it was killed) is started again rather than the name silently not answering.
    dns_control.sync(start=active and changed > 0)


def endpoints(container_id: str | None = None, *, network: str | None = None
              ) -> list[EndpointInfo]:
    """Endpoints in connection order: of one container, or on one network (name or id)."""
    sql = ("SELECT e.*, n.name AS network_name, n.subnet4, n.subnet6, n.gateway4, n.gateway6"
           " FROM net_endpoints e JOIN net_networks n ON n.id = e.network_id WHERE ")
    if container_id is not None:
        rows = state.db().execute(sql + "e.container_id = ? ORDER BY e.seq",
                                  (container_id,)).fetchall()
    else:
        rows = state.db().execute(sql + "(n.name = ? OR n.id = ?) ORDER BY e.seq",
                                  (network, network)).fetchall()
    return [EndpointInfo(
        container_id=r["container_id"], network_id=r["network_id"],
        network_name=r["network_name"], ifname=r["ifname"], host_ifname=r["host_ifname"],
        ipv4=r["ipv4"], ipv6=r["ipv6"], mac=r["mac"], prefix4=_prefix(r["subnet4"]),
        prefix6=_prefix(r["subnet6"]), gateway4=r["gateway4"], gateway6=r["gateway6"],
        aliases=tuple(loads(r["aliases"])), dns_names=tuple(loads(r["dns_names"])))
        for r in rows]
