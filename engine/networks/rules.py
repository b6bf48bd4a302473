"""The firewall rules of networks and published ports, as data (pure; applied by firewall.py).

Layout (legacy iptables, chains of our own, each rule tagged with a comment naming its owner so
removing a network or a container removes exactly its rules)::

    filter FORWARD      -> PYCOMPOSE-FORWARD
      PYCOMPOSE-FORWARD:     -j PYCOMPOSE-ISOLATION-1, then per network accept/drop rules
                             (into a bridge: replies and DNATed traffic only)
      PYCOMPOSE-ISOLATION-1: -i <bridge> ! -o <bridge> -j PYCOMPOSE-ISOLATION-2   (per network)
      PYCOMPOSE-ISOLATION-2: -o <bridge> -j DROP                                 (per network)
    nat PREROUTING, OUTPUT (-m addrtype --dst-type LOCAL) -> PYCOMPOSE-DNAT   (published ports)
    nat POSTROUTING     -> PYCOMPOSE-POSTROUTING   (MASQUERADE out, from 127/8, hairpin)

Next to another manager of the host's iptables-nft ``filter FORWARD`` chain (docker sets its
policy to DROP): a DROP there is final whatever our own table says, so our bridges' traffic is
also accepted there, in chain ``PYCOMPOSE-ALLOW`` (``HOST`` rules, applied by
firewall/hostfw.py), jumped to from ``DOCKER-USER`` (docker's place for user rules) or from
``FORWARD``. It accepts only what our own chains then decide on: replies and DNATed (published)
traffic into a bridge, traffic within a bridge, and traffic leaving a bridge -- except towards
docker's bridges (``docker0``, ``br-*``), which docker's own rules decide, so docker's
containers stay as closed to ours as to anything else.

Published ports stay reachable from other networks through the host address (conntrack state
DNAT returns from the isolation chain first). Two-stage isolation keeps the rule count linear
in the number of networks: traffic leaving one
of our bridges for anything else is dropped if it enters another of our bridges.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.digest import sha256_hex
from engine.naming import CHAIN_PREFIX
from engine.paths import state_root

FORWARD = f"{CHAIN_PREFIX}-FORWARD"
ISOLATION1 = f"{CHAIN_PREFIX}-ISOLATION-1"
ISOLATION2 = f"{CHAIN_PREFIX}-ISOLATION-2"
DNAT = f"{CHAIN_PREFIX}-DNAT"
POSTROUTING = f"{CHAIN_PREFIX}-POSTROUTING"
OUR_CHAINS = {"filter": (FORWARD, ISOLATION1, ISOLATION2), "nat": (DNAT, POSTROUTING)}
HOST = "host-filter"  # pseudo table: the host's iptables-nft filter table (see above)
ALLOW = f"{CHAIN_PREFIX}-ALLOW"
DOCKER_BRIDGES = ("docker0", "br-+")
TAG_PREFIX = "pycompose:"
BASE_TAG = TAG_PREFIX + "base"
DNS_TAG = TAG_PREFIX + "dns"


@dataclass(frozen=True, slots=True)
class Rule:
    """One iptables rule. Interface/address fields may start with ``!`` (negation)."""

    table: str
    chain: str
    target: str
    tag: str
    in_if: str | None = None
    out_if: str | None = None
    src: str | None = None
    dst: str | None = None
    proto: str | None = None
    dport: int | None = None
    ctstate: str | None = None
    dst_type: str | None = None
    to: str | None = None  # DNAT --to-destination
    first: bool = False  # insert at the top of the chain instead of appending


def network_tag(network_id: str) -> str:
    return f"{TAG_PREFIX}net:{network_id[:12]}"


def container_tag(container_id: str) -> str:
    """The comment tagging one container's port rules.

    Derived from the whole key and the state root: a prefix of the key is not unique (callers
    key endpoints by container name, and names of one project share a long prefix), and two
    state roots may both have a container called ``web``.
    """
    digest = sha256_hex(f"{state_root()}\0{container_id}")
    return f"{TAG_PREFIX}ctr:{digest[:16]}"


def base_rules() -> list[Rule]:
    """The jumps from the built-in chains into ours (inserted first, tagged ``base``)."""
    t = BASE_TAG
    return [
        Rule("filter", "FORWARD", FORWARD, t, first=True),
        Rule("filter", FORWARD, ISOLATION1, t, first=True),
        # a published port is public: reaching it through the host address from another
        # network is allowed (the packet was DNATed), everything else between bridges is not
        Rule("filter", ISOLATION1, "RETURN", t, ctstate="DNAT", first=True),
        Rule("nat", "PREROUTING", DNAT, t, dst_type="LOCAL", first=True),
        Rule("nat", "OUTPUT", DNAT, t, dst_type="LOCAL", first=True),
        Rule("nat", "POSTROUTING", POSTROUTING, t, first=True),
    ]


def network_rules(network_id: str, bridge: str, subnet4: str | None, *, internal: bool,
                  masquerade: bool = True, icc: bool = True) -> list[Rule]:
    """Forwarding, isolation and NAT rules of one network (``HOST`` rules included)."""
    t = network_tag(network_id)
    rules = [
        Rule("filter", ISOLATION1, ISOLATION2, t, in_if=bridge, out_if="!" + bridge),
        Rule("filter", ISOLATION2, "DROP", t, out_if=bridge),
        Rule("filter", FORWARD, "ACCEPT" if icc else "DROP", t, in_if=bridge, out_if=bridge),
    ]
    if internal:
        return rules + [
            Rule("filter", FORWARD, "DROP", t, in_if=bridge, out_if="!" + bridge),
            Rule("filter", FORWARD, "DROP", t, in_if="!" + bridge, out_if=bridge),
        ] + host_rules(network_id, bridge, internal=True)
    rules += [
        Rule("filter", FORWARD, "ACCEPT", t, out_if=bridge, ctstate="RELATED,ESTABLISHED"),
        Rule("filter", FORWARD, "ACCEPT", t, out_if=bridge, ctstate="DNAT"),  # published ports
        Rule("filter", FORWARD, "ACCEPT", t, in_if=bridge, out_if="!" + bridge),
        # nothing else enters the bridge from outside, whatever the host's FORWARD policy
        # (a neighbour routing to the subnet through this host; docker 28 drops it too)
        Rule("filter", FORWARD, "DROP", t, in_if="!" + bridge, out_if=bridge),
        # host -> 127.0.0.1:published port is DNATed to the bridge: give it a routable source
        Rule("nat", POSTROUTING, "MASQUERADE", t, src="127.0.0.0/8", out_if=bridge),
    ]
    if masquerade and subnet4:
        rules.append(Rule("nat", POSTROUTING, "MASQUERADE", t, src=subnet4, out_if="!" + bridge))
    return rules + host_rules(network_id, bridge, internal=False)


def host_rules(network_id: str, bridge: str, *, internal: bool) -> list[Rule]:
    """What one network needs accepted in the host's iptables-nft filter FORWARD chain."""
    t = network_tag(network_id)
    rules = [Rule(HOST, ALLOW, "ACCEPT", t, in_if=bridge, out_if=bridge)]
    if internal:
        return rules
    return rules + [
        Rule(HOST, ALLOW, "ACCEPT", t, out_if=bridge, ctstate="RELATED,ESTABLISHED"),
        Rule(HOST, ALLOW, "ACCEPT", t, out_if=bridge, ctstate="DNAT"),
        Rule(HOST, ALLOW, "ACCEPT", t, in_if=bridge),
    ]


def host_base_rules(parent: str) -> list[Rule]:
    """The jump into ``ALLOW`` from ``parent`` (DOCKER-USER or FORWARD), and the RETURNs that
    leave traffic into docker's bridges to docker's rules."""
    return [Rule(HOST, parent, ALLOW, BASE_TAG, first=True),
            *(Rule(HOST, ALLOW, "RETURN", BASE_TAG, out_if=name) for name in DOCKER_BRIDGES)]


def port_rules(container_id: str, bridge: str, container_ip: str, *, host_ip: str,
               host_port: int, container_port: int, protocol: str) -> list[Rule]:
    """DNAT, forward-accept and hairpin rules of one published port."""
    t = container_tag(container_id)
    dst = host_ip if host_ip not in ("", "0.0.0.0") else None
    return [
        Rule("nat", DNAT, "DNAT", t, dst=dst, proto=protocol, dport=host_port,
             to=f"{container_ip}:{container_port}"),
        Rule("filter", FORWARD, "ACCEPT", t, in_if="!" + bridge, out_if=bridge,
             dst=container_ip, proto=protocol, dport=container_port),
        # hairpin: a container reaching its own published port through the host address
        Rule("nat", POSTROUTING, "MASQUERADE", t, src=container_ip, dst=container_ip,
             proto=protocol, dport=container_port),
    ]


def dns_redirect_rules(udp_port: int, tcp_port: int) -> list[Rule]:
    """Inside a sandbox: 127.0.0.11:53 -> the embedded DNS sockets' real ports."""
    return [
        Rule("nat", "OUTPUT", "DNAT", DNS_TAG, dst="127.0.0.11/32", proto="udp", dport=53,
             to=f"127.0.0.11:{udp_port}"),
        Rule("nat", "OUTPUT", "DNAT", DNS_TAG, dst="127.0.0.11/32", proto="tcp", dport=53,
             to=f"127.0.0.11:{tcp_port}"),
    ]
