"""Applies :mod:`engine.networks.rules` (rule *data*) to the host's packet filter.

Interface: ``replace_rules(tag, rules)``, ``remove_tags(tags)``, ``list_tags()``,
``published(protocol)``, ``apply_dns_redirect(netns, udp_port, tcp_port)``.

Two backends behind it, chosen once per process (``backend_name``):

- ``iptables`` (iptables.py): the legacy xtables tables through python-iptables;
- ``nftables`` (nftables.py): our own ``inet pycompose`` table through libnftables.

Rule: ``PYCOMPOSE_FIREWALL=iptables|nftables`` wins; otherwise ``iptables`` where the legacy
xtables interface is usable (the kernel has ``ip_tables`` and libip4tc loads), else
``nftables``. Both probes read a file or dlopen a library: no subprocess.

Whatever the backend, ``HOST`` rules (see rules.py) go to the host's iptables-nft filter table
when it has a FORWARD chain (hostfw.py): that is where docker's DROP policy lives.
"""
from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from types import ModuleType

from engine.networks.firewall import hostfw, probe
from engine.networks.model import NetworkError
from engine.networks.rules import HOST, Rule
from engine.overlap import together

BACKENDS = ("iptables", "nftables")
_chosen: dict[str, ModuleType] = {}
_choose_lock = threading.Lock()


def backend_name() -> str:
    """The backend this process uses (see the module docstring for the rule)."""
    forced = os.environ.get("PYCOMPOSE_FIREWALL", "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise NetworkError(f"PYCOMPOSE_FIREWALL={forced!r}: use 'iptables' or 'nftables'",
                               step="choose firewall backend")
        return forced
    return "iptables" if probe.legacy_xtables() else "nftables"


def backend() -> ModuleType:
    with _choose_lock:
        if "module" not in _chosen:
            name = backend_name()
            _chosen["module"] = importlib.import_module(f"engine.networks.firewall.{name}")
        return _chosen["module"]


def replace_rules(tag: str, rules: Sequence[Rule]) -> None:
    """Drop every rule tagged ``tag``, then add ``rules`` (atomically per backend). The
    backend's tables and the host's iptables-nft chain are independent: written at once."""
    own = [r for r in rules if r.table != HOST]
    host = [r for r in rules if r.table == HOST]
    chosen = backend()
    together(lambda: chosen.replace_rules(tag, own),
             *([lambda: hostfw.replace(tag, host)] if host else []))


def remove_tags(tags: Iterable[str], *, teardown_if_empty: bool = True,
                going: Collection[str] = ()) -> None:
    """Remove every rule carrying one of ``tags``; our chains/table go when nothing is left.
    The other backend is cleaned too when it holds rules of ours (``PYCOMPOSE_FIREWALL``
    changed between ``up`` and ``down``), so ``down`` always cleans up. ``going``: bridges
    being deleted meanwhile, which count as gone when telling leftovers of crashed
    processes."""
    wanted = list(tags)

    def own() -> None:
        for module in (backend(), *_other_holding_ours()):
            module.remove_tags(wanted, teardown_if_empty=teardown_if_empty, going=going)

    together(own, lambda: hostfw.remove(wanted, teardown_if_empty=teardown_if_empty,
                                        going=going))


def list_tags() -> set[str]:
    """Every owner tag present in our rules (both backends and the host chain)."""
    found: set[str] = set()
    for module in (backend(), *_other_holding_ours()):
        found |= module.list_tags()
    return found | hostfw.tags()


def _other_holding_ours() -> list[ModuleType]:
    """The backend not chosen, if it may hold rules of ours (cheap checks first: a netlink
    read for nftables; for legacy, whether its filter/nat tables exist in this netns)."""
    chosen = backend()
    if chosen.__name__.endswith(".iptables"):
        if probe.nft_rules("inet", "pycompose"):
            return [importlib.import_module("engine.networks.firewall.nftables")]
        return []
    try:
        names = Path("/proc/net/ip_tables_names").read_text().split()
    except OSError:
        return []
    if {"filter", "nat"} & set(names) and probe.legacy_xtables():
        return [importlib.import_module("engine.networks.firewall.iptables")]
    return []


def published(protocol: str) -> set[tuple[str, int]]:
    """(destination, host port) of every published port of ``protocol``, whoever owns it."""
    found: set[tuple[str, int]] = backend().published(protocol)
    return found


def apply_dns_redirect(netns: Path, udp_port: int, tcp_port: int) -> None:
    """Inside the sandbox at ``netns``: DNAT 127.0.0.11:53 (udp, tcp) to our real ports."""
    backend().apply_dns_redirect(netns, udp_port, tcp_port)
