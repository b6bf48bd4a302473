"""The few kernel knobs networking needs (/proc/sys writes).

Host-wide changes are limited to ``net.ipv4.ip_forward=1`` (needed for outbound NAT and for
published ports reached from other hosts; enabled only when a non-internal network is created,
logged, never turned back off since other software may rely on it by then). Everything else is
per interface on our own bridges and veths.
"""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

PROC = Path("/proc/sys")


def read(key: str) -> str | None:
    """Read a sysctl like ``net.ipv4.ip_forward`` (None when it does not exist)."""
    try:
        return (PROC / key.replace(".", "/")).read_text().strip()
    except OSError:
        return None


def write(key: str, value: str) -> None:
    (PROC / key.replace(".", "/")).write_text(value)


def enable_ip_forward() -> None:
    """Turn on IPv4 forwarding if it is off (a host change: logged)."""
    if read("net.ipv4.ip_forward") != "1":
        log.warning("enabling net.ipv4.ip_forward=1 (host-wide) for outbound container traffic")
        write("net.ipv4.ip_forward", "1")


def ensure_bridge_netfilter() -> None:
    """Bridged IPv4 traffic must traverse iptables (conntrack un-NATs replies between two
    containers on one bridge after a hairpin DNAT). Docker sets the same; we only write it when
    it is off, and say so."""
    if read("net.bridge.bridge-nf-call-iptables") == "0":
        log.warning("enabling net.bridge.bridge-nf-call-iptables=1 (host-wide)")
        write("net.bridge.bridge-nf-call-iptables", "1")


def prepare_bridge(bridge: str) -> None:
    """Per-bridge settings: accept 127.0.0.1-sourced (DNATed, then masqueraded) packets so the
    host can reach published ports on localhost."""
    write(f"net.ipv4.conf.{bridge}.route_localnet", "1")
