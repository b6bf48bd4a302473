"""The legacy iptables backend: :mod:`engine.networks.rules` in the legacy xtables tables
through python-iptables (the only module that imports it).

Batches: every change to a table happens on one libiptc handle with autocommit off and is
committed once. Concurrency: python-iptables caches one handle per table per process and is not
thread-safe, so all use goes through one lock; other processes (our own and iptables-legacy)
are serialised by the same flock on /run/xtables.lock that the iptables tools take.
"""
from __future__ import annotations

import ctypes
import fcntl
import functools
import logging
import os
import sys
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from engine.networks.firewall.common import all_orphaned
from engine.networks.model import NetworkError
from engine.networks.netns import run_in_netns
from engine.networks.rules import (
    BASE_TAG,
    DNAT,
    DNS_TAG,
    OUR_CHAINS,
    TAG_PREFIX,
    Rule,
    base_rules,
    dns_redirect_rules,
)
from engine.paths import lock_path

log = logging.getLogger(__name__)


def _import_iptc() -> ModuleType:
    """Import python-iptables without distutils: iptc.util only wants ``get_python_lib`` from
    it and falls back to ``sysconfig`` when distutils is missing, but importing distutils goes
    through setuptools' shim and pkg_resources (~0.12 s of the DNS daemon's start-up, which
    every container of an ``up`` waits for)."""
    import sys

    blocked = "distutils" not in sys.modules
    if blocked:
        sys.modules["distutils"] = None  # type: ignore[assignment]  # -> ModuleNotFoundError
    try:
        from engine.libfind import quick_find_library

        with quick_find_library():  # no ldconfig/gcc subprocesses (~70 ms)
            import iptc as module
    finally:
        if blocked and sys.modules.get("distutils", 0) is None:
            del sys.modules["distutils"]
    return module


if TYPE_CHECKING:
    import iptc
else:
    iptc = _import_iptc()

def _xtables_lock() -> Path:
    """iptables' own lock file (read when used, like iptables does)."""
    return Path(os.environ.get("XTABLES_LOCKFILE", "/run/xtables.lock"))
_lock = threading.Lock()


@contextmanager
def _locked(host: bool = True) -> Iterator[None]:
    with _lock:
        if not host:
            yield
            return
        fd = os.open(lock_path(_xtables_lock()), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class _Batch:
    """Fresh libiptc handles (one per table, autocommit off), committed together."""

    def __init__(self) -> None:
        iptc.Table._cache.clear()  # never reuse a handle from another namespace or moment
        self.tables: dict[str, iptc.Table] = {}

    def table(self, name: str) -> iptc.Table:
        if name not in self.tables:
            self.tables[name] = iptc.Table(name, autocommit=False)
        return self.tables[name]

    def chain(self, table: str, name: str) -> iptc.Chain:
        tab = self.table(table)
        if not tab.is_chain(name):
            tab.create_chain(name)
        return iptc.Chain(tab, name)

    def commit(self) -> None:
        try:
            for table in self.tables.values():
                table.commit()
        except iptc.IPTCError as exc:
            raise NetworkError(str(exc), step="commit iptables") from None
        finally:
            self.close()

    def close(self) -> None:
        for table in self.tables.values():
            table.close()
        self.tables.clear()
        iptc.Table._cache.clear()


def warm_up() -> None:
    """Load the xtables extensions our rules use (a few ms of dlopen and parsing the first time
    in a process), without touching the kernel's tables: a process that forks commands does
    this once for all of them."""
    samples = [Rule("filter", "FORWARD", "ACCEPT", "warm", proto=proto, dport=1,
                    ctstate="RELATED,ESTABLISHED", dst_type="LOCAL") for proto in ("tcp", "udp")]
    samples += [Rule("nat", "PREROUTING", "DNAT", "warm", proto="tcp", dport=1, to="127.0.0.1:1"),
                *(Rule("filter", "FORWARD", target, "warm")
                  for target in ("DROP", "RETURN", "MASQUERADE"))]
    for rule in samples:
        _to_iptc(rule)


def _to_iptc(rule: Rule) -> iptc.Rule:
    r = iptc.Rule()
    if rule.in_if:
        r.in_interface = rule.in_if
    if rule.out_if:
        r.out_interface = rule.out_if
    if rule.src:
        r.src = rule.src
    if rule.dst:
        r.dst = rule.dst
    if rule.proto:
        r.protocol = rule.proto
        if rule.dport is not None:
            m = r.create_match(rule.proto)
            m.dport = str(rule.dport)
    if rule.ctstate:
        r.create_match("conntrack").ctstate = rule.ctstate
    if rule.dst_type:
        r.create_match("addrtype").dst_type = rule.dst_type
    r.create_match("comment").comment = rule.tag
    target = r.create_target(rule.target)
    if rule.to:
        target.to_destination = rule.to
    return r


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the tag-based bookkeeping needs of one rule, read straight from libiptc's entry:
    python-iptables' Rule objects decode every match and target through libxtables (~1 ms a
    rule), which made reading a few chains cost tens of milliseconds per network change."""

    tag: str | None
    in_interface: str
    out_interface: str


_MATCH_HEAD = 32  # struct xt_entry_match: u16 match_size, char name[29], u8 revision


def _entries(tab: iptc.Table, chain: str) -> list[_Entry]:
    """The rules of ``chain`` in order (the index is the rule number, from 0)."""
    head = ctypes.sizeof(iptc.ip4tc.ipt_entry)  # the matches follow the fixed part
    found = []
    entry = tab.first_rule(chain)
    while entry:
        matches = ctypes.string_at(ctypes.addressof(entry) + head, entry.target_offset - head)
        found.append(_Entry(_comment(matches), entry.ip.iniface.decode(errors="replace"),
                            entry.ip.outiface.decode(errors="replace")))
        entry = tab.next_rule(entry)
    return found


def _comment(matches: bytes) -> str | None:
    """The text of the ``comment`` match among an entry's matches, if any."""
    at = 0
    while at + _MATCH_HEAD <= len(matches):
        size = int.from_bytes(matches[at:at + 2], sys.byteorder)
        if matches[at + 2:at + 31].split(b"\0", 1)[0] == b"comment":
            text = matches[at + _MATCH_HEAD:at + size].split(b"\0", 1)[0]
            return text.decode(errors="replace").strip('"') or None
        if size < _MATCH_HEAD:
            break
        at += size
    return None


def _add(batch: _Batch, rules: Iterable[Rule]) -> None:
    for rule in rules:
        chain = batch.chain(rule.table, rule.chain)
        if rule.target not in ("ACCEPT", "DROP", "RETURN", "DNAT", "MASQUERADE"):
            batch.chain(rule.table, rule.target)
        data = _entry(rule)
        entry = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
        try:
            if rule.first:
                chain.table.insert_entry(chain.name, entry, 0)
            else:
                chain.table.append_entry(chain.name, entry)
        except iptc.IPTCError as exc:
            raise NetworkError(str(exc), step="add iptables rule", obj=rule.tag) from None


@functools.lru_cache(maxsize=512)
def _entry(rule: Rule) -> bytes:
    """``rule`` as the entry libiptc takes. Built through python-iptables, which parses every
    match and target option with libxtables and checks them: ~1 ms a rule, paid once per
    process for the same rule (every sandbox's DNS redirect, each network's rules again)."""
    built = _to_iptc(rule)
    built.final_check()
    return bytes(built.rule)


def _delete_tagged(batch: _Batch, table: str, chains: Iterable[str],
                   wanted: set[str] | None = None, prefix: str | None = None) -> None:
    tab = batch.table(table)
    for name in chains:
        if not tab.is_chain(name):
            continue
        numbers = [n for n, e in enumerate(_entries(tab, name))
                   if e.tag and ((wanted and e.tag in wanted)
                                 or (prefix and e.tag.startswith(prefix)))]
        for number in reversed(numbers):  # from the end: the numbers before stay valid
            if tab._iptc.iptc_delete_num_entry(name.encode(), ctypes.c_uint(number),
                                               tab._handle) != 1:
                raise iptc.IPTCError(f"can't delete rule {number} from chain {name}: "
                                     f"{tab.strerror()}")


_BASE_CHAINS = {"filter": ("FORWARD", *OUR_CHAINS["filter"]),
                "nat": ("PREROUTING", "OUTPUT", "POSTROUTING", *OUR_CHAINS["nat"])}


def _has_base(batch: _Batch) -> bool:
    """Do our chains and every base rule exist (an older or half-made base is rebuilt)?"""
    if not all(batch.table(t).is_chain(c) for t, chains in OUR_CHAINS.items() for c in chains):
        return False
    count = 0
    for table, chains in _BASE_CHAINS.items():
        tab = batch.table(table)
        for name in chains:
            count += sum(e.tag == BASE_TAG for e in _entries(tab, name))
    return count == len(base_rules())


def replace_rules(tag: str, rules: Sequence[Rule]) -> None:
    """Atomically per table: drop every rule tagged ``tag``, then add ``rules`` (creating our
    chains and the jumps into them when missing)."""
    with _locked():
        batch = _Batch()
        try:
            fresh = not _has_base(batch)
            if fresh:  # (re)build the base: drop half-made jumps, keep other owners' rules
                for table, chains in _BASE_CHAINS.items():
                    _delete_tagged(batch, table, chains, {BASE_TAG})
            for table, chains in OUR_CHAINS.items():
                _delete_tagged(batch, table, chains, {tag})
            _add(batch, base_rules() if fresh else ())
            _add(batch, rules)
        except BaseException:
            batch.close()
            raise
        batch.commit()


def remove_tags(tags: Iterable[str], *, teardown_if_empty: bool = True,
                going: Collection[str] = ()) -> None:
    """Remove every rule carrying one of ``tags``; drop our chains when nothing else is left."""
    wanted = set(tags)
    with _locked():
        batch = _Batch()
        try:
            for table, chains in OUR_CHAINS.items():
                _delete_tagged(batch, table, chains, wanted)
            if teardown_if_empty and (_only_base_left(batch) or _all_orphaned(batch, going)):
                _teardown(batch)
        except BaseException:
            batch.close()
            raise
        batch.commit()


def _only_base_left(batch: _Batch) -> bool:
    for table, chains in OUR_CHAINS.items():
        tab = batch.table(table)
        for name in chains:
            if tab.is_chain(name) and any(e.tag != BASE_TAG for e in _entries(tab, name)):
                return False
    return True


def _all_orphaned(batch: _Batch, going: Collection[str]) -> bool:
    def names() -> list[str]:
        found = []
        for table, chains in OUR_CHAINS.items():
            tab = batch.table(table)
            for name in chains:
                if tab.is_chain(name):
                    found += [i for e in _entries(tab, name)
                              for i in (e.in_interface, e.out_interface) if i]
        return found

    return all_orphaned(names, "iptables", going)


def _teardown(batch: _Batch) -> None:
    _delete_tagged(batch, "filter", ("FORWARD",), {BASE_TAG})
    _delete_tagged(batch, "nat", ("PREROUTING", "OUTPUT", "POSTROUTING"), {BASE_TAG})
    for table, chains in OUR_CHAINS.items():
        tab = batch.table(table)
        for name in chains:
            if tab.is_chain(name):
                iptc.Chain(tab, name).flush()
        for name in chains:
            if tab.is_chain(name):
                tab.delete_chain(name)


def list_tags() -> set[str]:
    """Every owner tag present in our chains (for sweeps and leak checks)."""
    with _locked():
        batch = _Batch()
        try:
            found: set[str] = set()
            for table, chains in OUR_CHAINS.items():
                tab = batch.table(table)
                for name in chains:
                    if tab.is_chain(name):
                        found.update(e.tag or "" for e in _entries(tab, name))
            return {t for t in found if t.startswith(TAG_PREFIX)} - {BASE_TAG}
        finally:
            batch.close()


def published(protocol: str) -> set[tuple[str, int]]:
    """(destination, host port) of every DNAT rule in our chain for ``protocol``, whoever owns
    it (other state roots included): a port published twice would be silently shadowed."""
    with _locked():
        batch = _Batch()
        try:
            tab = batch.table("nat")
            if not tab.is_chain(DNAT):
                return set()
            found = set()
            for rule in iptc.Chain(tab, DNAT).rules:
                if rule.protocol != protocol:
                    continue
                for match in rule.matches:
                    if match.name == protocol and match.dport:
                        found.add((rule.dst.split("/")[0], int(match.dport)))
            return found
        finally:
            batch.close()


def apply_dns_redirect(netns: Path, udp_port: int, tcp_port: int) -> None:
    """Inside the sandbox at ``netns``: DNAT 127.0.0.11:53 (udp, tcp) to our real ports,
    replacing an earlier redirect (a restarted DNS daemon gets new ports)."""

    def body() -> None:
        batch = _Batch()
        try:
            _delete_tagged(batch, "nat", ("OUTPUT",), {DNS_TAG})
            _add(batch, dns_redirect_rules(udp_port, tcp_port))
        except BaseException:
            batch.close()
            raise
        batch.commit()

    with _locked(host=False):
        run_in_netns(netns, body)
