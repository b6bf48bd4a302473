"""Rule data (:mod:`engine.networks.rules`) in nftables' JSON form (pure; used by the nftables
backend).

Everything lives in one table, ``inet pycompose``. The iptables built-in chains the rules name
become base chains of that table at the same hooks and priorities (filter FORWARD -> ``forward``
at priority 0, nat PREROUTING/OUTPUT -> dstnat -100, nat POSTROUTING -> srcnat 100); our own
chains keep their names. Matches translate one to one: interfaces -> ``meta iifname/oifname``,
addresses -> ``ip saddr/daddr``, ``--ctstate RELATED,ESTABLISHED`` -> ``ct state``,
``--ctstate DNAT`` -> ``ct status dnat``, ``--dst-type LOCAL`` -> ``fib daddr type local``;
the owner tag is the rule's comment.
"""
from __future__ import annotations

from typing import Any

from engine.networks.rules import OUR_CHAINS, Rule

FAMILY = "inet"
TABLE = "pycompose"
# iptables built-in chain -> (our base chain, chain type, hook, priority)
BASE_CHAINS = {
    ("filter", "FORWARD"): ("forward", "filter", "forward", 0),
    ("nat", "PREROUTING"): ("prerouting", "nat", "prerouting", -100),
    ("nat", "OUTPUT"): ("output", "nat", "output", -100),
    ("nat", "POSTROUTING"): ("postrouting", "nat", "postrouting", 100),
}
VERDICTS = {"ACCEPT": "accept", "DROP": "drop", "RETURN": "return"}
Json = dict[str, Any]


def where(extra: Json | None = None) -> Json:
    return {"family": FAMILY, "table": TABLE, **(extra or {})}


def chain_name(table: str, chain: str) -> str:
    base = BASE_CHAINS.get((table, chain))
    return base[0] if base else chain


def table_commands() -> list[Json]:
    """Create the table and all its chains (``add`` is a no-op for what exists)."""
    cmds: list[Json] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}]
    for name, kind, hook, prio in BASE_CHAINS.values():
        cmds.append({"add": {"chain": where({"name": name, "type": kind, "hook": hook,
                                              "prio": prio, "policy": "accept"})}})
    for chains in OUR_CHAINS.values():
        cmds += [{"add": {"chain": where({"name": name})}} for name in chains]
    return cmds


def rule_command(rule: Rule) -> Json:
    body = where({"chain": chain_name(rule.table, rule.chain), "comment": rule.tag,
                  "expr": expressions(rule)})
    return {"insert" if rule.first else "add": {"rule": body}}


def expressions(rule: Rule) -> list[Json]:
    expr = [_match({"meta": {"key": key}}, value)
            for key, value in (("iifname", rule.in_if), ("oifname", rule.out_if)) if value]
    expr += [_match({"payload": {"protocol": "ip", "field": field}}, value, address=True)
             for field, value in (("saddr", rule.src), ("daddr", rule.dst)) if value]
    if rule.proto and rule.dport is not None:
        expr.append(_match({"payload": {"protocol": rule.proto, "field": "dport"}}, rule.dport))
    elif rule.proto:
        expr.append(_match({"meta": {"key": "l4proto"}}, rule.proto))
    if rule.ctstate:
        expr += _ctstate(rule.ctstate)
    if rule.dst_type:
        expr.append(_match({"fib": {"result": "type", "flags": ["daddr"]}},
                           rule.dst_type.lower()))
    expr.append(_target(rule))
    return expr


def _match(left: Json, value: str | int, *, address: bool = False) -> Json:
    op = "=="
    if isinstance(value, str) and value.startswith("!"):
        op, value = "!=", value[1:]
    right: Any = _address(value) if address and isinstance(value, str) else value
    return {"match": {"op": op, "left": left, "right": right}}


def _address(value: str) -> Any:
    addr, _, length = value.partition("/")
    if not length or length == "32":
        return addr
    return {"prefix": {"addr": addr, "len": int(length)}}


def _ctstate(states: str) -> list[Json]:
    names = [s.strip().lower() for s in states.split(",")]
    out: list[Json] = []
    plain = [s for s in names if s != "dnat"]
    if plain:
        out.append({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": plain}})
    if "dnat" in names:
        out.append({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}})
    return out


def _target(rule: Rule) -> Json:
    if rule.target in VERDICTS:
        return {VERDICTS[rule.target]: None}
    if rule.target == "MASQUERADE":
        return {"masquerade": None}
    if rule.target == "DNAT":
        addr, _, port = (rule.to or "").partition(":")
        return {"dnat": {"family": "ip", "addr": addr, **({"port": int(port)} if port else {})}}
    return {"jump": {"target": rule.target}}


def interfaces(expr: list[Json]) -> list[str]:
    """The interface names a listed rule matches on."""
    names = []
    for item in expr:
        match = item.get("match")
        if match and match["left"].get("meta", {}).get("key") in ("iifname", "oifname"):
            names.append(str(match["right"]))
    return names


def dnat_binding(expr: list[Json], protocol: str) -> tuple[str, int] | None:
    """(destination, port) of a listed DNAT rule for ``protocol`` (destination 0.0.0.0 when
    the rule matches any address), None for other rules."""
    dst, port = "0.0.0.0", None
    for item in expr:
        match = item.get("match")
        if not match:
            continue
        payload = match["left"].get("payload", {})
        if payload.get("field") == "daddr" and isinstance(match["right"], str):
            dst = match["right"]
        elif payload.get("protocol") == protocol and payload.get("field") == "dport":
            port = int(match["right"])
    return (dst, port) if port is not None else None
