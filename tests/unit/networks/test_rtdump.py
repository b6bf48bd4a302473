"""The plain rtnetlink dumps agree with iproute2 about this host's routes and addresses."""
from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess

import pytest

from engine.networks import link, rtdump

pytestmark = pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 missing")


def _ip(*args: str) -> list[dict[str, object]]:
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout
    return list(json.loads(out or "[]"))


def test_route_destinations_match_iproute2() -> None:
    for family, flag in ((socket.AF_INET, "-4"), (socket.AF_INET6, "-6")):
        expected = {ipaddress.ip_network(r["dst"] if "/" in str(r["dst"]) else
                                          f"{r['dst']}/{32 if family == socket.AF_INET else 128}",
                                          strict=False)
                    for r in _ip(flag, "route", "show", "table", "all")
                    if r.get("dst") not in (None, "default")}
        assert set(rtdump.route_destinations(family)) == expected


def test_address_subnets_match_iproute2() -> None:
    expected = {ipaddress.ip_network(f"{a.get('address', a['local'])}/{a['prefixlen']}",
                                     strict=False)
                for dev in _ip("addr", "show") for a in dev.get("addr_info", [])}  # type: ignore[attr-defined]
    assert set(rtdump.address_subnets()) == expected


def test_host_route_networks_leave_out_defaults_link_local_and_loopback() -> None:
    for net in link.host_route_networks():
        assert net.prefixlen > 0 and not (net.is_link_local or net.is_loopback
                                          or net.is_multicast)


def test_link_index_agrees_with_sysfs() -> None:
    assert link.link_index("lo") == int(open("/sys/class/net/lo/ifindex").read())
    assert link.link_index("pc-no-such-link") is None
