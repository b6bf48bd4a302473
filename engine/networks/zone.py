"""The names a sandbox can resolve, built from the store's endpoint records (pure data, no
dnspython: the DNS daemon builds zones while it starts, before the wire-format code is loaded)."""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

A, AAAA, PTR = 1, 28, 12  # DNS record type numbers (RFC 1035, RFC 3596)


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
