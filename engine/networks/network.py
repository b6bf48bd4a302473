"""Networks: create (IPAM + bridge + firewall), remove, inspect, list."""
from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from engine.errors import Conflict, NotFound
from engine.naming import bridge_name, new_id
from engine.networks import firewall, ipam, link, rules, state, sysctl
from engine.networks.model import (
    BRIDGE_NAME_OPT,
    ICC_OPT,
    KNOWN_DRIVER_OPTS,
    MASQUERADE_OPT,
    MTU_OPT,
    IpamConfig,
    IpamSpec,
    NetworkError,
    NetworkInfo,
    NetworkSpec,
)
from engine.overlap import together
from engine.paths import lock_path
from engine.store import dumps, loads

log = logging.getLogger(__name__)

DEFAULT_MTU = 1500
# Subnet choice must be serialised host-wide (across state roots): check routes, then create.
IPAM_LOCK = Path("/run/pycompose-ipam.lock")


@contextmanager
def host_ipam_lock() -> Iterator[None]:
    fd = os.open(lock_path(IPAM_LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def validate_spec(spec: NetworkSpec) -> int:
    """Reject what we cannot do with a clear message; return the MTU."""
    step, obj = "create network", spec.name
    if spec.driver not in ("bridge", "", None):
        raise NetworkError(f"driver {spec.driver!r} is not supported (only 'bridge')",
                           step=step, obj=obj)
    if spec.ipam.driver not in ("default", "", None):
        raise NetworkError(f"ipam driver {spec.ipam.driver!r} is not supported", step=step, obj=obj)
    unknown = sorted(set(spec.driver_opts) - KNOWN_DRIVER_OPTS)
    if unknown:
        raise NetworkError(f"unsupported driver_opts: {', '.join(unknown)}", step=step, obj=obj)
    if not spec.enable_ipv4 and not spec.enable_ipv6:
        raise NetworkError("a network needs IPv4 or IPv6", step=step, obj=obj)
    mtu_text = spec.driver_opts.get(MTU_OPT, str(DEFAULT_MTU))
    if not mtu_text.isdigit() or not 68 <= int(mtu_text) <= 65535:
        raise NetworkError(f"invalid MTU {mtu_text!r}", step=step, obj=obj)
    return int(mtu_text)


def create_network(spec: NetworkSpec) -> NetworkInfo:
    """Create a bridge network: pick subnets, record it, make the bridge, add its rules."""
    mtu = validate_spec(spec)
    net_id = new_id()
    bridge = spec.driver_opts.get(BRIDGE_NAME_OPT) or bridge_name(net_id)
    if len(bridge) > 15:
        raise NetworkError("bridge name longer than 15 characters", step="create network",
                           obj=spec.name)
    with host_ipam_lock():
        plan4, plan6 = _plan(spec)
        _record(spec, net_id, bridge, mtu, plan4, plan6)
        try:
            addrs = [(str(p.gateway), p.subnet.prefixlen) for p in (plan4, plan6) if p]
            link.ensure_bridge(bridge, mtu=mtu, addrs=addrs)
        except BaseException:
            _undo(net_id, bridge)
            raise
    try:
        _configure_host(spec, net_id, bridge, plan4)
    except BaseException:
        _undo(net_id, bridge)
        raise
    with state.write() as conn:
        conn.execute("UPDATE net_networks SET state = ? WHERE id = ?", (state.READY, net_id))
    log.info("created network %s (%s) on %s", spec.name, net_id[:12], bridge)
    return inspect_network(net_id)


def _undo(net_id: str, bridge: str) -> None:
    destroy_network_objects(net_id, bridge)
    with state.write() as conn:
        conn.execute("DELETE FROM net_networks WHERE id = ?", (net_id,))


def _plan(spec: NetworkSpec) -> tuple[ipam.SubnetPlan | None, ipam.SubnetPlan | None]:
    cfg4, cfg6 = ipam.split_configs(spec.ipam.configs)
    taken = list(link.host_route_networks()) + _store_subnets()
    plan4 = ipam.plan_subnet(cfg4, 4, taken) if spec.enable_ipv4 else None
    plan6 = ipam.plan_subnet(cfg6, 6, taken) if spec.enable_ipv6 else None
    return plan4, plan6


def _store_subnets() -> list[ipam.IPNetwork]:
    rows = state.db().execute("SELECT subnet4, subnet6 FROM net_networks").fetchall()
    return [ipaddress.ip_network(s) for r in rows for s in (r[0], r[1]) if s]


def _record(spec: NetworkSpec, net_id: str, bridge: str, mtu: int,
            plan4: ipam.SubnetPlan | None, plan6: ipam.SubnetPlan | None) -> None:
    with state.write() as conn:
        if state.find_network(conn, spec.name) is not None:
            raise Conflict("network already exists", step="create network", obj=spec.name)
        conn.execute(
            "INSERT INTO net_networks VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (net_id, spec.name, bridge, dumps(spec_to_json(spec)),
             str(plan4.subnet) if plan4 else None, str(plan4.gateway) if plan4 else None,
             str(plan6.subnet) if plan6 else None, str(plan6.gateway) if plan6 else None,
             mtu, state.CREATING, os.getpid(), time.time()))


def _configure_host(spec: NetworkSpec, net_id: str, bridge: str,
                    plan4: ipam.SubnetPlan | None) -> None:
    sysctl.prepare_bridge(bridge)
    sysctl.ensure_bridge_netfilter()
    if not spec.internal:
        sysctl.enable_ip_forward()
    opts = spec.driver_opts
    firewall.replace_rules(rules.network_tag(net_id), rules.network_rules(
        net_id, bridge, str(plan4.subnet) if plan4 else None, internal=spec.internal,
        masquerade=opts.get(MASQUERADE_OPT, "true") != "false",
        icc=opts.get(ICC_OPT, "true") != "false"))


def restore_network(name_or_id: str) -> None:
    """Re-create a recorded network's bridge and rules if they are gone (after a reboot or a
    manual ``ip link del``); a no-op when they exist."""
    row = state.find_network(state.db(), name_or_id)
    if row is None:
        raise NotFound("no such network", step="restore network", obj=name_or_id)
    spec = spec_from_json(loads(row["spec"]))
    addrs = [(row[g], ipaddress.ip_network(row[s]).prefixlen)
             for g, s in (("gateway4", "subnet4"), ("gateway6", "subnet6")) if row[s]]
    with host_ipam_lock():  # a network being created right now gets its bridge under it
        if link.link_exists(row["bridge"]):
            return
        link.ensure_bridge(row["bridge"], mtu=row["mtu"], addrs=addrs)
    plan4 = ipam.plan_subnet(IpamConfig(subnet=row["subnet4"], gateway=row["gateway4"]), 4, []) \
        if row["subnet4"] else None
    _configure_host(spec, row["id"], row["bridge"], plan4)


def remove_network(name_or_id: str) -> None:
    """Remove a network that has no endpoints: its rules, its bridge, then its record."""
    conn = state.db()
    row = state.find_network(conn, name_or_id)
    if row is None:
        raise NotFound("no such network", step="remove network", obj=name_or_id)
    users = state.endpoints_on(conn, row["id"])
    if users:
        raise Conflict(f"network has {len(users)} active endpoint(s)", step="remove network",
                       obj=row["name"])
    with state.write() as wconn:
        wconn.execute("UPDATE net_networks SET state = ?, pid = ? WHERE id = ?",
                      (state.REMOVING, os.getpid(), row["id"]))
    destroy_network_objects(row["id"], row["bridge"])
    with state.write() as wconn:
        wconn.execute("DELETE FROM net_networks WHERE id = ?", (row["id"],))
    log.info("removed network %s", row["name"])


def destroy_network_objects(net_id: str, bridge: str) -> None:
    """Remove a network's kernel objects (idempotent; used by remove and by sweeps).

    The bridge and the rules go at the same time (deleting a bridge is mostly waiting for the
    kernel's RCU grace periods); the rules' removal counts the bridge as gone when it looks
    for pycompose bridges left on the host (which keep our base chains)."""
    together(lambda: firewall.remove_tags([rules.network_tag(net_id)], going=(bridge,)),
             lambda: link.delete_link(bridge))


def inspect_network(name_or_id: str) -> NetworkInfo:
    """Return a network's record (by name, id or unique id prefix)."""
    row = state.find_network(state.db(), name_or_id)
    if row is None:
        raise NotFound("no such network", step="inspect network", obj=name_or_id)
    return row_to_info(row)


def list_networks(labels: Mapping[str, str] | None = None) -> list[NetworkInfo]:
    """Every network, optionally only those carrying all of ``labels``."""
    rows = state.db().execute("SELECT * FROM net_networks ORDER BY name").fetchall()
    infos = [row_to_info(r) for r in rows]
    if labels:
        infos = [i for i in infos if all(i.spec.labels.get(k) == v for k, v in labels.items())]
    return infos


def network_exists(name: str) -> bool:
    return state.find_network(state.db(), name) is not None


def row_to_info(row: sqlite3.Row) -> NetworkInfo:
    return NetworkInfo(
        id=row["id"], name=row["name"], bridge=row["bridge"],
        spec=spec_from_json(loads(row["spec"])), subnet4=row["subnet4"],
        gateway4=row["gateway4"], subnet6=row["subnet6"], gateway6=row["gateway6"],
        mtu=row["mtu"], created=row["created"])


def spec_to_json(spec: NetworkSpec) -> dict[str, Any]:
    data = asdict(spec)
    data["labels"] = dict(spec.labels)
    data["driver_opts"] = dict(spec.driver_opts)
    return data


def spec_from_json(data: dict[str, Any]) -> NetworkSpec:
    ipam_data = data.get("ipam") or {}
    configs = tuple(IpamConfig(**c) for c in ipam_data.get("configs", ()))
    return NetworkSpec(**{**data, "ipam": IpamSpec(ipam_data.get("driver", "default"), configs)})
