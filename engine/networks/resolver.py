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

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from engine.networks.zone import AAAA, PTR, A, EndpointRecord, Zone, build_zone

__all__ = ["EndpointRecord", "Zone", "answer", "build_zone", "parse_query", "question_key",
           "servfail"]

TTL = 60



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
