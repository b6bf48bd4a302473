"""The native nftables backend: :mod:`engine.networks.rules` in our own ``inet pycompose``
table (see nftrules.py for the translation), through libnftables (nftlib.py).

Each change is one nftables transaction: the table's rules are read as (chain, handle, owner)
over raw netlink (probe.nft_rules, far cheaper than a libnftables listing), then one batch
deletes the owner's rules by handle and adds the new ones; a host-wide flock keeps two
processes from batching against the same reading. The table goes as a whole when the last
network of every state root is gone.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from engine.networks.firewall import nftlib, probe
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
from engine.paths import lock_path

NFT_LOCK = Path("/run/pycompose-nft.lock")
Json = dict[str, Any]


def _refs() -> list[probe.RuleRef]:
    return probe.nft_rules(FAMILY, TABLE)


def _delete(ref: probe.RuleRef) -> Json:
    return {"delete": {"rule": where({"chain": ref.chain, "handle": ref.handle})}}


def _has_base(refs: list[probe.RuleRef]) -> bool:
    """Are every base rule there (then the table and chains are too: a base rule sits in each
    base chain and jumps to each of our chains); a half-made base is rebuilt."""
    return sum(r.comment == BASE_TAG for r in refs) == len(base_rules())


def replace_rules(tag: str, rules: Sequence[Rule]) -> None:
    """In one transaction: drop every rule tagged ``tag``, then add ``rules`` (creating the
    table, its chains and the jumps into ours when missing)."""
    with host_lock(lock_path(NFT_LOCK)):
        refs = _refs()
        cmds: list[Json] = []
        drop = {tag}
        if not _has_base(refs):
            cmds += table_commands()
            drop.add(BASE_TAG)
            rules = [*base_rules(), *rules]
        cmds += [_delete(r) for r in refs if r.comment in drop]
        cmds += [rule_command(r) for r in rules]
        nftlib.run(cmds, what="apply nftables rules")


def remove_tags(tags: Iterable[str], *, teardown_if_empty: bool = True,
                going: Collection[str] = ()) -> None:
    """Remove every rule carrying one of ``tags``; drop the table when nothing else is left."""
    wanted = set(tags)
    with host_lock(lock_path(NFT_LOCK)):
        refs = _refs()
        if not any(r.comment in wanted for r in refs) and not teardown_if_empty:
            return
        left = [r for r in refs if r.comment not in wanted | {BASE_TAG}]
        if teardown_if_empty and refs and (
                not left or all_orphaned(_interfaces, "nftables", going)):
            table = {"family": FAMILY, "name": TABLE}
            cmds: list[Json] = [{"add": {"table": table}}, {"delete": {"table": table}}]
        else:
            cmds = [_delete(r) for r in refs if r.comment in wanted]
        nftlib.run(cmds, what="remove nftables rules")


def _interfaces() -> list[str]:
    """Interfaces named by the rules of our table (full listing: only when no bridge of ours
    is left, to tell rules of crashed processes)."""
    listing = nftlib.list_table(FAMILY, TABLE) or []
    return [i for o in listing if "rule" in o for i in interfaces(o["rule"]["expr"])]


def list_tags() -> set[str]:
    """Every owner tag present in our table (for sweeps and leak checks)."""
    found = {r.comment or "" for r in _refs()}
    return {t for t in found if t.startswith(TAG_PREFIX)} - {BASE_TAG}


def published(protocol: str) -> set[tuple[str, int]]:
    """(destination, host port) of every DNAT rule in our table for ``protocol``."""
    if not any(r.chain == DNAT for r in _refs()):
        return set()
    listing = nftlib.run([{"list": {"chain": where({"name": DNAT})}}], what="list nftables")
    found = set()
    for obj in listing:
        if "rule" in obj:
            binding = dnat_binding(obj["rule"]["expr"], protocol)
            if binding:
                found.add(binding)
    return found


def apply_dns_redirect(netns: Path, udp_port: int, tcp_port: int) -> None:
    """Inside the sandbox at ``netns``: DNAT 127.0.0.11:53 (udp, tcp) to our real ports. The
    sandbox's ``inet pycompose`` table holds only this, so it is made whole in one transaction;
    an existing one (a restarted DNS daemon gets new ports) is deleted in the same transaction.
    (A transaction that deletes anything waits for an RCU grace period in the kernel, ~16 ms
    here, so the usual first call -- nothing to delete -- lists first: ~0.3 ms.)"""
    table = {"family": FAMILY, "name": TABLE}
    cmds: list[Json] = [
        {"add": {"table": table}},
        {"add": {"chain": where({"name": "output", "type": "nat", "hook": "output",
                                 "prio": -100, "policy": "accept"})}},
    ]
    cmds += [rule_command(r) for r in dns_redirect_rules(udp_port, tcp_port)]

    def body() -> None:
        if nftlib.list_table(FAMILY, TABLE) is not None:
            nftlib.run([{"delete": {"table": table}}, *cmds], what="apply DNS redirect")
        else:
            nftlib.run(cmds, what="apply DNS redirect")

    run_in_netns(netns, body)
