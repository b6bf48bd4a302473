"""What the embedded DNS answers (pure: records in, DNS wire format out; dnspython).

A container sees only the names of the networks its sandbox is attached to. Names (service,
container, hostname, aliases) are matched case-insensitively; a name with several endpoints
(a scaled service) answers every address, rotated between answers. A known name with no address
of the asked type gets an empty NOERROR answer and is never forwarded. PTR answers
``<container name>.<network>`` for container addresses. Anything else returns None: forward it.

TTL: 60 s. Docker uses 600; a container that is recreated gets a new address, so a short TTL
limits stale answers in clients that cache (most libcs in containers do not cache at all).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

TTL = 60
A, AAAA, PTR = dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.PTR



@dataclass(frozen=True, slots=True)
class EndpointRecord:
    """One active endpoint as the DNS sees it."""

    container_id: str
    network_id: str
    network_name: str
    names: tuple[str, ...]
    ipv4: str | None
    ipv6: str | None


@dataclass(slots=True)
class Zone:
    """The names one sandbox can resolve."""

    v4: dict[str, list[str]] = field(default_factory=dict)
    v6: dict[str, list[str]] = field(default_factory=dict)
    ptr: dict[str, str] = field(default_factory=dict)

    def knows(self, name: str) -> bool:
        return name in self.v4 or name in self.v6

    def count(self, name: str, rdtype: int) -> int:
        table = self.v4 if rdtype == A else self.v6 if rdtype == AAAA else {}
        return len(table.get(name, ()))


def build_zone(records: Iterable[EndpointRecord], networks: Iterable[str]) -> Zone:
    """The zone of a sandbox attached to ``networks`` (ids, in the sandbox's endpoint order).

    A name known on several of those networks answers from the first one only (docker's
    resolver asks the networks in endpoint order and stops at the first that knows the name);
    ``<name>.<network>`` always answers from that network.
    """
    order = list(dict.fromkeys(networks))
    per_net: dict[str, Zone] = {net: Zone() for net in order}
    zone = Zone()
    for rec in records:
        net_zone = per_net.get(rec.network_id)
        if net_zone is None:
            continue
        for raw in rec.names:
            base = raw.lower().rstrip(".")
            _add(net_zone, base, rec)
            _add(zone, f"{base}.{rec.network_name.lower()}", rec)  # also <name>.<network>
        if rec.names:
            target = f"{rec.names[0]}.{rec.network_name}."
            for addr in (rec.ipv4, rec.ipv6):
                if addr:
                    zone.ptr[ipaddress.ip_address(addr).reverse_pointer.lower()] = target
    for net in order:
        for name in per_net[net].v4:
            if not zone.knows(name):
                zone.v4[name] = per_net[net].v4[name]
                zone.v6[name] = per_net[net].v6[name]
    return zone


def _add(zone: Zone, name: str, rec: EndpointRecord) -> None:
    _append_unique(zone.v4.setdefault(name, []), rec.ipv4)
    _append_unique(zone.v6.setdefault(name, []), rec.ipv6)


def _append_unique(values: list[str], value: str | None) -> None:
    if value and value not in values:
        values.append(value)


def parse_query(wire: bytes) -> dns.message.Message | None:
    """Parse a query; None when it is not a well-formed standard query."""
    try:
        msg = dns.message.from_wire(wire)
    except Exception:  # any malformed packet: dnspython raises many exception types
        return None
    if msg.opcode() != dns.opcode.QUERY or len(msg.question) != 1 or msg.flags & dns.flags.QR:
        return None
    return msg


def question_key(msg: dns.message.Message) -> tuple[str, int]:
    q = msg.question[0]
    return q.name.to_text(omit_final_dot=True).lower(), q.rdtype


def answer(zone: Zone, msg: dns.message.Message, rotate: int = 0) -> bytes | None:
    """Answer ``msg`` from ``zone`` (addresses rotated by ``rotate``); None means forward."""
    name, rdtype = question_key(msg)
    qname = msg.question[0].name
    response = dns.message.make_response(msg)
    response.flags |= dns.flags.RA | dns.flags.AA
    if rdtype == PTR:
        target = zone.ptr.get(name + ".") or zone.ptr.get(name)
        if target is None:
            return None
        response.answer.append(dns.rrset.from_text(qname, TTL, "IN", "PTR", target))
        return response.to_wire()
    if not zone.knows(name):
        return None
    if rdtype in (A, AAAA):
        addrs = (zone.v4 if rdtype == A else zone.v6).get(name, [])
        if addrs:
            k = rotate % len(addrs)
            rotated = addrs[k:] + addrs[:k]
            rrset = dns.rrset.from_text_list(qname, TTL, dns.rdataclass.IN,
                                             dns.rdatatype.RdataType(rdtype), rotated)
            response.answer.append(rrset)
    return response.to_wire(want_shuffle=False)  # our rotation, not dnspython's shuffle


def servfail(wire: bytes) -> bytes | None:
    """A SERVFAIL reply to a query (None if the query cannot even be parsed)."""
    msg = parse_query(wire)
    if msg is None:
        return None
    response = dns.message.make_response(msg)
    response.set_rcode(dns.rcode.SERVFAIL)
    response.flags |= dns.flags.RA
    return response.to_wire()
