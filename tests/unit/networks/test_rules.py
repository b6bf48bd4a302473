from __future__ import annotations

from engine.networks import rules


def test_network_rules_are_tagged_and_isolate_in_two_stages() -> None:
    got = rules.network_rules("a" * 64, "pcbr-aaaa", "10.213.1.0/24", internal=False)
    assert {r.tag for r in got} == {"pycompose:net:aaaaaaaaaaaa"}
    iso1 = [r for r in got if r.chain == rules.ISOLATION1]
    iso2 = [r for r in got if r.chain == rules.ISOLATION2]
    assert iso1[0].in_if == "pcbr-aaaa" and iso1[0].out_if == "!pcbr-aaaa"
    assert iso1[0].target == rules.ISOLATION2
    assert iso2[0].out_if == "pcbr-aaaa" and iso2[0].target == "DROP"
    masq = [r for r in got if r.target == "MASQUERADE"]
    assert {r.src for r in masq} == {"127.0.0.0/8", "10.213.1.0/24"}


def test_internal_network_drops_and_never_masquerades() -> None:
    got = rules.network_rules("b" * 64, "pcbr-bbbb", "10.213.2.0/24", internal=True)
    assert not [r for r in got if r.table == "nat"]
    drops = {(r.in_if, r.out_if) for r in got if r.chain == rules.FORWARD and r.target == "DROP"}
    assert drops == {("pcbr-bbbb", "!pcbr-bbbb"), ("!pcbr-bbbb", "pcbr-bbbb")}


def test_masquerade_and_icc_options() -> None:
    got = rules.network_rules("c" * 64, "pcbr-c", "10.213.3.0/24", internal=False,
                              masquerade=False, icc=False)
    assert [r.src for r in got if r.target == "MASQUERADE"] == ["127.0.0.0/8"]
    intra = [r for r in got if r.in_if == "pcbr-c" and r.out_if == "pcbr-c"]
    assert intra[0].target == "DROP"


def test_port_rules_dnat_accept_and_hairpin() -> None:
    got = rules.port_rules("d" * 64, "pcbr-d", "10.213.4.2", host_ip="127.0.0.1",
                           host_port=8080, container_port=80, protocol="udp")
    dnat, accept, hairpin = got
    assert (dnat.chain, dnat.dst, dnat.dport, dnat.to) == (rules.DNAT, "127.0.0.1", 8080,
                                                           "10.213.4.2:80")
    assert accept.dst == "10.213.4.2" and accept.dport == 80 and accept.proto == "udp"
    assert hairpin.src == hairpin.dst == "10.213.4.2" and hairpin.target == "MASQUERADE"
    any_ip = rules.port_rules("d" * 64, "pcbr-d", "10.213.4.2", host_ip="0.0.0.0",
                              host_port=8080, container_port=80, protocol="tcp")
    assert any_ip[0].dst is None


def test_base_rules_jump_into_our_chains_first() -> None:
    base = rules.base_rules()
    assert all(r.first and r.tag == rules.BASE_TAG for r in base)
    assert {(r.table, r.chain) for r in base} >= {("filter", "FORWARD"), ("nat", "OUTPUT"),
                                                  ("nat", "PREROUTING"), ("nat", "POSTROUTING")}
    local = [r for r in base if r.chain in ("OUTPUT", "PREROUTING")]
    assert all(r.dst_type == "LOCAL" for r in local)


def test_dns_redirect_keeps_port_53_free() -> None:
    udp, tcp = rules.dns_redirect_rules(40001, 40002)
    assert (udp.proto, udp.dport, udp.to) == ("udp", 53, "127.0.0.11:40001")
    assert (tcp.proto, tcp.dport, tcp.to) == ("tcp", 53, "127.0.0.11:40002")
