from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode

from engine.networks import resolver
from engine.networks.resolver import EndpointRecord, build_zone

RECORDS = [
    EndpointRecord("c1", "n1", "proj_default", ("proj-web-1", "web", "www"), "10.0.0.2",
                   "fd70::2"),
    EndpointRecord("c2", "n1", "proj_default", ("proj-web-2", "web"), "10.0.0.3", None),
    EndpointRecord("c3", "n2", "proj_back", ("db",), "10.0.1.2", None),
]


def ask(zone: resolver.Zone, name: str, rdtype: str = "A", rotate: int = 0
        ) -> dns.message.Message | None:
    query = resolver.parse_query(dns.message.make_query(name, rdtype).to_wire())
    assert query is not None
    wire = resolver.answer(zone, query, rotate)
    return None if wire is None else dns.message.from_wire(wire)


def addrs(msg: dns.message.Message | None) -> list[str]:
    assert msg is not None
    return [r.to_text() for rrset in msg.answer for r in rrset]


def test_zone_only_holds_names_of_attached_networks() -> None:
    zone = build_zone(RECORDS, ["n1"])
    assert addrs(ask(zone, "web")) == ["10.0.0.2", "10.0.0.3"]
    assert addrs(ask(zone, "WWW.")) == ["10.0.0.2"]
    assert ask(zone, "db") is None  # not on n1: forwarded, never answered locally


def test_rotation_moves_each_replica_first() -> None:
    zone = build_zone(RECORDS, ["n1"])
    firsts = {addrs(ask(zone, "web", rotate=i))[0] for i in range(2)}
    assert firsts == {"10.0.0.2", "10.0.0.3"}


def test_aaaa_and_empty_answers() -> None:
    zone = build_zone(RECORDS, ["n1"])
    assert addrs(ask(zone, "proj-web-1", "AAAA")) == ["fd70::2"]
    empty = ask(zone, "proj-web-2", "AAAA")
    assert empty is not None and empty.rcode() == dns.rcode.NOERROR and not empty.answer
    txt = ask(zone, "web", "TXT")
    assert txt is not None and not txt.answer and txt.flags & dns.flags.AA


def test_ptr_for_container_addresses() -> None:
    zone = build_zone(RECORDS, ["n1", "n2"])
    assert addrs(ask(zone, "2.0.0.10.in-addr.arpa", "PTR")) == ["proj-web-1.proj_default."]
    assert addrs(ask(zone, "2.1.0.10.in-addr.arpa", "PTR")) == ["db.proj_back."]
    assert ask(zone, "9.9.9.9.in-addr.arpa", "PTR") is None


def test_ttl_is_short_and_response_echoes_id() -> None:
    zone = build_zone(RECORDS, ["n1"])
    query = dns.message.make_query("web", "A")
    wire = resolver.answer(zone, resolver.parse_query(query.to_wire()))  # type: ignore[arg-type]
    assert wire is not None and wire[:2] == query.to_wire()[:2]
    assert dns.message.from_wire(wire).answer[0].ttl == resolver.TTL <= 600


def test_malformed_and_non_queries() -> None:
    assert resolver.parse_query(b"\x00\x01garbage") is None
    response = dns.message.make_response(dns.message.make_query("web", "A"))
    assert resolver.parse_query(response.to_wire()) is None
    fail = resolver.servfail(dns.message.make_query("x.example", "A").to_wire())
    assert fail is not None and dns.message.from_wire(fail).rcode() == dns.rcode.SERVFAIL


def test_names_qualified_by_network() -> None:
    zone = build_zone(RECORDS, ["n1", "n2"])
    assert addrs(ask(zone, "web.proj_default")) == ["10.0.0.2", "10.0.0.3"]
    assert addrs(ask(zone, "db.proj_back")) == ["10.0.1.2"]
    assert ask(zone, "db.proj_default") is None


def test_docker_dns_names_container_name_first_for_ptr_short_id_and_hostname() -> None:
    # what docker registers per endpoint: container name (PTR target), aliases (compose: the
    # service name and the network's aliases), the container's short id, its hostname
    rec = EndpointRecord("c9", "n1", "proj_default",
                         ("proj-api-1", "api", "backend", "0123456789ab", "apihost"),
                         "10.0.0.9", None)
    zone = build_zone([rec], ["n1"])
    for name in ("proj-api-1", "api", "backend", "0123456789ab", "apihost",
                 "backend.proj_default", "0123456789ab.proj_default"):
        assert addrs(ask(zone, name)) == ["10.0.0.9"], name
    assert addrs(ask(zone, "9.0.0.10.in-addr.arpa", "PTR")) == ["proj-api-1.proj_default."]


def test_name_on_two_attached_networks_answers_from_the_first() -> None:
    records = [EndpointRecord("a", "n2", "proj_back", ("cache",), "10.0.1.7", None),
               EndpointRecord("b", "n1", "proj_default", ("cache",), "10.0.0.7", "fd70::7")]
    front_first = build_zone(records, ["n1", "n2"])
    assert addrs(ask(front_first, "cache")) == ["10.0.0.7"]
    assert addrs(ask(front_first, "cache", "AAAA")) == ["fd70::7"]
    back_first = build_zone(records, ["n2", "n1"])
    assert addrs(ask(back_first, "cache")) == ["10.0.1.7"]
    empty = ask(back_first, "cache", "AAAA")  # known on the first network: no IPv6 there
    assert empty is not None and not empty.answer
    assert addrs(ask(back_first, "cache.proj_default")) == ["10.0.0.7"]  # qualified: that one
