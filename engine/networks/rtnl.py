"""The few rtnetlink requests every container start and removal makes, built by hand.

pyroute2 builds each message from Python objects and opens a socket with an event loop per
``IPRoute``: 3-6 ms of CPU per request here, four requests per container. These helpers pack
the same messages with :mod:`struct` on one plain socket (tens of microseconds). Everything
else about links still goes through :mod:`engine.networks.link`'s pyroute2 helpers.

A socket talks to the network namespace it was created in: open one inside the namespace
(see ``link.in_netns``) to change links there.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_SETLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 17, 19, 20, 24
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLMSG_ERROR = 2
IFF_UP = 0x1
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO = 1, 3, 4, 10, 18
IFLA_PROTINFO, IFLA_GROUP, IFLA_NET_NS_FD = 12, 27, 28
IFLA_BRPORT_MODE = 4  # hairpin
NLA_F_NESTED = 0x8000
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_OIF, RTA_GATEWAY = 4, 5
RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 4, 0, 1

# the message layouts (engine.networks.rtdump reads dumps with the same ones)
HDR = struct.Struct("=IHHII")  # nlmsghdr: len, type, flags, seq, pid
IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol,
# scope, type, flags
RTA = struct.Struct("=HH")  # len, type


class RtnlError(OSError):
    """The kernel refused a request; ``code`` is the errno (as pyroute2's NetlinkError)."""

    def __init__(self, code: int) -> None:
        super().__init__(code, os.strerror(code))
        self.code = code


def attr(kind: int, payload: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    size = RTA.size + len(payload)
    return RTA.pack(size, kind) + payload + b"\0" * (-size % 4)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


def _u32(value: int) -> bytes:
    return struct.pack("=I", value)


def _mac(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


class Rtnl:
    """One NETLINK_ROUTE socket in the calling thread's network namespace; each request
    waits for the kernel's acknowledgement."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def request(self, kind: int, flags: int, body: bytes) -> None:
        """Send one request and raise :class:`RtnlError` if the kernel refuses it."""
        self.seq += 1
        self.sock.send(HDR.pack(HDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags,
                                 self.seq, 0) + body)
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset + HDR.size <= len(data):
                size, mtype, _, seq, _ = HDR.unpack_from(data, offset)
                if mtype == NLMSG_ERROR and seq == self.seq:
                    code = -struct.unpack_from("=i", data, offset + HDR.size)[0]
                    if code:
                        raise RtnlError(code)
                    return
                offset += max(size + (-size % 4), HDR.size)

    def add_veth(self, name: str, peer: str, *, peer_netns_fd: int, master: int, mtu: int,
                 peer_mac: str) -> None:
        """Create the pair: ``name`` here, enslaved to ``master`` and up; ``peer`` (with
        ``peer_mac``, down) created in the namespace of ``peer_netns_fd``."""
        peer_info = (IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
                     + attr(IFLA_IFNAME, _name(peer)) + attr(IFLA_NET_NS_FD, _u32(peer_netns_fd))
                     + attr(IFLA_MTU, _u32(mtu)) + attr(IFLA_ADDRESS, _mac(peer_mac)))
        linkinfo = attr(IFLA_INFO_KIND, b"veth") + attr(
            IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_info))
        body = (IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, IFF_UP, IFF_UP)
                + attr(IFLA_IFNAME, _name(name)) + attr(IFLA_MTU, _u32(mtu))
                + attr(IFLA_MASTER, _u32(master)) + attr(IFLA_LINKINFO, linkinfo))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def set_hairpin(self, index: int) -> None:
        """Turn on hairpin mode of bridge port ``index`` (as ``bridge link set hairpin on``).
        Unlike a write to its sysfs ``brport/hairpin_mode`` file, which retries the system call
        in a busy loop while another process holds the kernel's rtnl lock, this request waits
        for the lock."""
        body = (IFINFOMSG.pack(socket.AF_BRIDGE, 0, index, 0, 0)
                + attr(IFLA_PROTINFO | NLA_F_NESTED, attr(IFLA_BRPORT_MODE, b"\1")))
        self.request(RTM_SETLINK, 0, body)

    def add_link(self, name: str, kind: str, *, mtu: int) -> None:
        """Create link ``name`` of ``kind`` (``bridge``), down, with the kernel's defaults."""
        body = (IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + attr(IFLA_IFNAME, _name(name))
                + attr(IFLA_MTU, _u32(mtu)) + attr(IFLA_LINKINFO, attr(IFLA_INFO_KIND,
                                                                        kind.encode())))
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def set_up(self, index: int, *, mtu: int | None = None) -> None:
        """Bring link ``index`` up (and set its MTU)."""
        body = IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP)
        if mtu is not None:
            body += attr(IFLA_MTU, _u32(mtu))
        self.request(RTM_NEWLINK, 0, body)

    def delete_link(self, index: int) -> None:
        """Delete link ``index`` (a veth takes its peer with it)."""
        self.request(RTM_DELLINK, 0, IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0))

    def set_group(self, index: int, group: int) -> None:
        """Put link ``index`` in device group ``group`` (as ``ip link set ... group``)."""
        self.request(RTM_NEWLINK, 0, IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
                     + attr(IFLA_GROUP, _u32(group)))

    def delete_group(self, group: int) -> None:
        """Delete every link of device group ``group`` in one request (as ``ip link delete
        group``): the kernel unregisters them as one batch. It refuses (EOPNOTSUPP) without
        deleting any when one of them cannot be deleted, and answers ENODEV when none is in
        the group."""
        self.request(RTM_DELLINK, 0, IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
                     + attr(IFLA_GROUP, _u32(group)))

    def add_address(self, index: int, address: str, prefix: int, flags: int = 0) -> None:
        """Add ``address/prefix`` to link ``index`` (IPv4: as local and peer address, as
        ``ip addr add`` does; no broadcast)."""
        ip = ipaddress.ip_address(address)
        family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        body = IFADDRMSG.pack(family, prefix, flags, RT_SCOPE_UNIVERSE, index)
        if family == socket.AF_INET:
            body += attr(IFA_LOCAL, ip.packed)
        body += attr(IFA_ADDRESS, ip.packed)
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)

    def replace_default_route(self, gateway: str, index: int) -> None:
        """The main table's default route of the gateway's family: via ``gateway`` out of
        link ``index`` (protocol static, created or replaced)."""
        ip = ipaddress.ip_address(gateway)
        family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
        body = (RTMSG.pack(family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE,
                            RTN_UNICAST, 0)
                + attr(RTA_GATEWAY, ip.packed) + attr(RTA_OIF, _u32(index)))
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, body)
