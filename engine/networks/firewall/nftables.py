"""The native nftables backend: :mod:`engine.networks.rules` in our own ``inet pycompose``
table (see nftrules.py for the translation), through libnftables (nftlib.py).

Each change is one nftables transaction (list the table, then one batch that deletes the
owner's rules by handle and adds the new ones), under a host-wide flock so that two processes
never batch against the same listing. The table goes as a whole when the last network of every
state root is gone.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from engine.networks.firewall import nftlib
from engine.networks.firewall.common import all_orphaned, host_lock
from engine.networks.firewall.nftrules import (
    FAMILY,
    TABLE,
    dnat_binding,
    interfaces,
    rule_command,
    table_commands,
    where,
)
from engine.networks.netns import run_in_netns
from engine.networks.rules import (
    BASE_TAG,
    DNAT,
    TAG_PREFIX,
    Rule,
    base_rules,
    dns_redirect_rules,
)

NFT_LOCK = Path("/run/pycompose-nft.lock")
Json = dict[str, Any]


def _rules(listing: list[Json]) -> list[Json]:
    return [o["rule"] for o in listing if "rule" in o]


def _delete(rule: Json) -> Json:
    return {"delete": {"rule": where({"chain": rule["chain"], "handle": rule["handle"]})}}


def _has_base(listing: list[Json] | None) -> bool:
    if listing is None:
        return False
    chains = {o["chain"]["name"] for o in listing if "chain" in o}
    wanted = {c["add"]["chain"]["name"] for c in table_commands() if "chain" in c["add"]}
    base = [r for r in _rules(listing) if r.get("comment") == BASE_TAG]
    return wanted <= chains and len(base) == len(base_rules())


def replace_rules(tag: str, rules: Sequence[Rule]) -> None:
    """In one transaction: drop every rule tagged ``tag``, then add ``rules`` (creating the
    table, its chains and the jumps into ours when missing)."""
    with host_lock(NFT_LOCK):
        listing = nftlib.list_table(FAMILY, TABLE)
        cmds: list[Json] = []
        drop = {tag}
        if not _has_base(listing):
            cmds += table_commands()
            drop.add(BASE_TAG)  # a half-made base is rebuilt
            rules = [*base_rules(), *rules]
        cmds += [_delete(r) for r in _rules(listing or []) if r.get("comment") in drop]
        cmds += [rule_command(r) for r in rules]
        nftlib.run(cmds, what="apply nftables rules")


def remove_tags(tags: Iterable[str], *, teardown_if_empty: bool = True) -> None:
    """Remove every rule carrying one of ``tags``; drop the table when nothing else is left."""
    wanted = set(tags)
    with host_lock(NFT_LOCK):
        listing = nftlib.list_table(FAMILY, TABLE)
        if listing is None:
            return
        rules = _rules(listing)
        left = [r for r in rules if r.get("comment") not in wanted | {BASE_TAG}]
        if teardown_if_empty and (not left or all_orphaned(
                [i for r in left for i in interfaces(r["expr"])], "nftables")):
            cmds = [{"delete": {"table": {"family": FAMILY, "name": TABLE}}}]
        else:
            cmds = [_delete(r) for r in rules if r.get("comment") in wanted]
        nftlib.run(cmds, what="remove nftables rules")


def list_tags() -> set[str]:
    """Every owner tag present in our table (for sweeps and leak checks)."""
    with host_lock(NFT_LOCK):
        listing = nftlib.list_table(FAMILY, TABLE) or []
    found = {str(r.get("comment", "")) for r in _rules(listing)}
    return {t for t in found if t.startswith(TAG_PREFIX)} - {BASE_TAG}


def published(protocol: str) -> set[tuple[str, int]]:
    """(destination, host port) of every DNAT rule in our table for ``protocol``."""
    with host_lock(NFT_LOCK):
        listing = nftlib.list_table(FAMILY, TABLE) or []
    found = set()
    for rule in _rules(listing):
        if rule["chain"] == DNAT:
            binding = dnat_binding(rule["expr"], protocol)
            if binding:
                found.add(binding)
    return found


def apply_dns_redirect(netns: Path, udp_port: int, tcp_port: int) -> None:
    """Inside the sandbox at ``netns``: DNAT 127.0.0.11:53 (udp, tcp) to our real ports. The
    sandbox's ``inet pycompose`` table holds only this, so it is re-made whole (a restarted
    DNS daemon gets new ports) in one transaction."""
    table = {"family": FAMILY, "name": TABLE}
    cmds: list[Json] = [
        {"add": {"table": table}}, {"delete": {"table": table}}, {"add": {"table": table}},
        {"add": {"chain": where({"name": "output", "type": "nat", "hook": "output",
                                 "prio": -100, "policy": "accept"})}},
    ]
    cmds += [rule_command(r) for r in dns_redirect_rules(udp_port, tcp_port)]
    run_in_netns(netns, lambda: nftlib.run(cmds, what="apply DNS redirect"))

