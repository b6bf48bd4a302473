"""engine.networks.rtnl: the hand-built rtnetlink requests of a container's start and removal,
checked against what ``ip`` reports, in two namespaces of the test's own."""
from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.networks import netns
from engine.networks.rtnl import Rtnl, RtnlError

pytestmark = pytest.mark.root


@pytest.fixture
def two_netns(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    a, b = tmp_path / "a", tmp_path / "b"
    for path in (a, b):
        netns.create_netns(path, netns.set_lo_up)
    try:
        yield a, b
    finally:
        for path in (a, b):
            netns.remove_netns(path)


def ip(ns: Path, *args: str) -> list[dict]:
    out = subprocess.run(["nsenter", f"--net={ns}", "ip", "-j", "-d", *args], check=True,
                         capture_output=True, text=True).stdout
    return list(json.loads(out or "[]"))


def test_veth_addresses_route_and_removal(two_netns: tuple[Path, Path]) -> None:
    a, b = two_netns

    def in_a() -> None:
        fd = os.open(b, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with Rtnl() as rtnl:
                rtnl.add_link("br-t", "bridge", mtu=1400)
                with pytest.raises(RtnlError) as twice:
                    rtnl.add_link("br-t", "bridge", mtu=1400)
                assert twice.value.code == errno.EEXIST
                rtnl.set_up(socket.if_nametoindex("br-t"), mtu=1450)
                rtnl.add_veth("vh-t", "vp-t", peer_netns_fd=fd,
                              master=socket.if_nametoindex("br-t"), mtu=1400,
                              peer_mac="02:42:0a:e7:00:02")
                rtnl.set_hairpin(socket.if_nametoindex("vh-t"))
                with pytest.raises(RtnlError) as exists:
                    rtnl.add_veth("vh-t", "vp-t2", peer_netns_fd=fd,
                                  master=socket.if_nametoindex("br-t"), mtu=1400,
                                  peer_mac="02:42:0a:e7:00:03")
                assert exists.value.code == errno.EEXIST
        finally:
            os.close(fd)

    netns.run_in_netns(a, in_a)
    bridge = ip(a, "link", "show", "br-t")[0]
    assert bridge["linkinfo"]["info_kind"] == "bridge" and "UP" in bridge["flags"]
    assert bridge["mtu"] == 1450  # set by the user: the kernel keeps it with smaller ports
    host = ip(a, "link", "show", "vh-t")[0]
    assert host["master"] == "br-t" and host["mtu"] == 1400 and "UP" in host["flags"]
    assert host["linkinfo"]["info_slave_data"]["hairpin"] is True
    peer = ip(b, "link", "show", "vp-t")[0]
    assert peer["address"] == "02:42:0a:e7:00:02" and peer["mtu"] == 1400
    assert "UP" not in peer["flags"]

    def in_b() -> None:
        index = socket.if_nametoindex("vp-t")
        with Rtnl() as rtnl:
            rtnl.add_address(index, "10.231.0.2", 24)
            rtnl.add_address(index, "fd00:231::2", 64, flags=0x02)  # IFA_F_NODAD
            with pytest.raises(RtnlError) as again:
                rtnl.add_address(index, "10.231.0.2", 24)
            assert again.value.code == errno.EEXIST
            rtnl.set_up(index)
            rtnl.replace_default_route("10.231.0.1", index)
            rtnl.replace_default_route("10.231.0.254", index)  # replaced, not added
            rtnl.replace_default_route("fd00:231::1", index)

    netns.run_in_netns(b, in_b)
    addrs = {(x["local"], x["prefixlen"], x["family"])
             for x in ip(b, "addr", "show", "vp-t")[0]["addr_info"] if x["scope"] == "global"}
    assert addrs == {("10.231.0.2", 24, "inet"), ("fd00:231::2", 64, "inet6")}
    v4 = ip(b, "-4", "route", "show", "default")
    assert [(r["gateway"], r["dev"], r["protocol"]) for r in v4] == [
        ("10.231.0.254", "vp-t", "static")]
    v6 = ip(b, "-6", "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in v6] == [("fd00:231::1", "vp-t")]

    def remove() -> None:
        index = socket.if_nametoindex("vh-t")
        with Rtnl() as rtnl:
            rtnl.delete_link(index)
            with pytest.raises(RtnlError) as gone:
                rtnl.delete_link(index)
            assert gone.value.code == errno.ENODEV

    netns.run_in_netns(a, remove)
    assert ip(a, "link", "show", "type", "veth") == []
    assert ip(b, "link", "show", "type", "veth") == []  # the peer went with it
