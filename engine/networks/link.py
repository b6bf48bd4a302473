"""Links, addresses and routes over netlink: a container's and a bridge's requests through
:mod:`.rtnl`; the rarer dumps and route changes through pyroute2 (only this module and
:mod:`.netlink`, which loads it cheaply, import pyroute2, and only when one of those runs:
its ~100 modules, asyncio among them, cost a cold ``up`` ~80 ms).

Every helper is idempotent where that makes sense (``ensure_bridge``, ``delete_link``), so a
retry after a crash converges instead of failing.
"""
from __future__ import annotations

import errno
import ipaddress
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from engine.networks import dellink, rtdump
from engine.networks.model import NetworkError
from engine.networks.netns import run_in_netns
from engine.networks.rtnl import Rtnl, RtnlError

if TYPE_CHECKING:
    from engine.networks.netlink import IPRoute, NetlinkError

log = logging.getLogger(__name__)
T = TypeVar("T")

IFA_F_NODAD = 0x02
Addr = tuple[str, int]  # (address, prefix length)


@contextmanager
def host_iproute() -> Iterator[IPRoute]:
    """A netlink socket in the caller's (host) namespace."""
    from engine.networks.netlink import IPRoute

    with IPRoute() as ipr:
        yield ipr


def in_netns(path: Path, fn: Callable[[IPRoute], T]) -> T:
    """Run ``fn(ipr)`` entirely inside the namespace at ``path``.

    pyroute2 0.9 opens its socket lazily, on first use: an IPRoute built in a setns'd thread
    but used from another thread talks to the *host*. So the socket is created, used and
    closed in the helper thread, and the thread's namespace is checked before any change.
    """
    from engine.networks.netlink import IPRoute

    def body() -> T:
        with IPRoute() as ipr:
            return fn(ipr)

    return _in_sandbox(path, body)


def _in_sandbox(path: Path, fn: Callable[[], T]) -> T:
    """Run ``fn()`` in a helper thread inside the namespace at ``path`` (checked first)."""
    want = os.stat(path).st_ino

    def body() -> T:
        if os.stat("/proc/thread-self/ns/net").st_ino != want:
            raise NetworkError("helper thread is not in the sandbox", step="setns", obj=str(path))
        return fn()

    return run_in_netns(path, body)


def _fail(step: str, obj: str, exc: NetlinkError | RtnlError) -> NetworkError:
    return NetworkError(f"{os.strerror(exc.code)} (netlink {exc.code})", step=step, obj=obj)


def host_route_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Every destination the host routes (v4 and v6, all tables) and every interface subnet,
    minus default routes, link-local and multicast: what a new subnet must not overlap."""
    found = [*rtdump.route_destinations(socket.AF_INET), *rtdump.route_destinations(
        socket.AF_INET6), *rtdump.address_subnets()]
    return [n for n in found if n.prefixlen > 0 and not (n.is_link_local or n.is_multicast
                                                         or n.is_loopback)]


def link_index(name: str) -> int | None:
    """The index of link ``name`` in the calling thread's network namespace."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        return None


def ensure_bridge(name: str, *, mtu: int, addrs: Sequence[Addr]) -> int:
    """Create (if missing) the bridge ``name`` with ``addrs``, set its MTU and bring it up."""
    with Rtnl() as rtnl:
        index = link_index(name)
        try:
            if index is None:
                try:
                    rtnl.add_link(name, "bridge", mtu=mtu)
                except RtnlError as exc:
                    if exc.code != errno.EEXIST:  # else another thread or process made it
                        raise
                index = link_index(name)
            assert index is not None
            for address, prefix in addrs:
                _add_addr(rtnl, index, address, prefix)
            rtnl.set_up(index, mtu=mtu)
        except RtnlError as exc:
            raise _fail("create bridge", name, exc) from None
    return index


def _add_addr(rtnl: Rtnl, index: int, address: str, prefix: int) -> None:
    """Add the address (IPv6 without duplicate address detection); one already there is
    fine."""
    try:
        rtnl.add_address(index, address, prefix, IFA_F_NODAD if ":" in address else 0)
    except RtnlError as exc:
        if exc.code != errno.EEXIST:
            raise


def link_exists(name: str) -> bool:
    """Does a host link called ``name`` exist?"""
    return os.path.exists(f"/sys/class/net/{name}")


def delete_link(name: str, doomed: bool = False) -> bool:
    """Delete a host link by name (together with those other threads delete meanwhile: see
    :mod:`.dellink`, which also says what ``doomed`` means); return False if it did not
    exist."""
    index = link_index(name)
    if index is None:
        return False
    with Rtnl() as rtnl:
        try:
            dellink.delete(rtnl, index, doomed)
        except RtnlError as exc:
            if exc.code != errno.ENODEV:
                raise _fail("delete link", name, exc) from None
            return False
    return True


def list_links(prefix: str) -> list[str]:
    """Names of host links starting with ``prefix``."""
    with host_iproute() as ipr:
        names = (link.get_attr("IFLA_IFNAME") for link in ipr.get_links())
        return sorted(n for n in names if n and n.startswith(prefix))


def create_veth(host_name: str, peer_name: str, *, netns: Path, bridge: str, mtu: int,
                mac: str) -> None:
    """Create a veth pair in one request: ``host_name`` enslaved to ``bridge`` and up,
    ``peer_name`` (with ``mac``) created directly inside the namespace at ``netns``; then turn
    on the bridge port's hairpin mode (a container reaching its own published port through
    the host address), on the same socket."""
    bridge_index = link_index(bridge)
    if bridge_index is None:
        raise NetworkError("bridge is missing", step="create veth", obj=bridge)
    fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with Rtnl() as rtnl:
            rtnl.add_veth(host_name, peer_name, peer_netns_fd=fd, master=bridge_index, mtu=mtu,
                          peer_mac=mac)
            _set_hairpin(rtnl, host_name)
    except RtnlError as exc:
        raise _fail("create veth", host_name, exc) from None
    finally:
        os.close(fd)


def _set_hairpin(rtnl: Rtnl, port: str) -> None:
    """Hairpin mode on bridge port ``port``; without it only that one path fails, so a
    refusal is logged, not raised."""
    try:
        rtnl.set_hairpin(socket.if_nametoindex(port))
    except OSError as exc:
        log.warning("hairpin mode on %s: %s", port, exc)


def configure_peer(netns: Path, ifname: str, *, addrs: Sequence[Addr],
                   gateways: Sequence[str] = ()) -> None:
    """Inside the namespace, in one netlink session: add the addresses, bring the interface
    up and point the default route(s) at ``gateways`` through it."""

    def body() -> None:
        index = link_index(ifname)
        if index is None:
            raise NetworkError("interface missing in sandbox", step="configure", obj=ifname)
        try:
            with Rtnl() as rtnl:
                for address, prefix in addrs:
                    _add_addr(rtnl, index, address, prefix)
                rtnl.set_up(index)
                for gateway in gateways:
                    rtnl.replace_default_route(gateway, index)
        except RtnlError as exc:
            raise _fail("configure endpoint", ifname, exc) from None

    _in_sandbox(netns, body)


def replace_default_route(netns: Path, family: int, gateway: str | None, ifname: str) -> None:
    """Point the namespace's default route of ``family`` (4 or 6) at ``gateway`` via
    ``ifname``; with ``gateway`` None, remove the default route."""
    from engine.networks.netlink import NetlinkError

    dst = "0.0.0.0/0" if family == 4 else "::/0"

    def body(ipr: IPRoute) -> None:
        try:
            if gateway is None:
                for route in ipr.route("dump", family=2 if family == 4 else 10):
                    if route["dst_len"] == 0 and route.get_attr("RTA_GATEWAY"):
                        ipr.route("del", dst=dst, family=2 if family == 4 else 10)
                return
            ipr.route("replace", dst=dst, gateway=gateway, oif=link_index(ifname))
        except NetlinkError as exc:
            raise _fail("set default route", ifname, exc) from None

    in_netns(netns, body)


def sandbox_links(netns: Path) -> list[str]:
    """Interface names inside a namespace."""
    return in_netns(netns, lambda ipr: [str(link.get_attr("IFLA_IFNAME"))
                                        for link in ipr.get_links()])
