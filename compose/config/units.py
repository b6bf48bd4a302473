"""Parsers for the units compose files use: Go durations, byte sizes, port specs.

Pure helpers shared by the semantic checks and the normalizer. Each raises ValueError with a
short reason on bad input; callers add the file, line and key path.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}


def parse_duration(value: str | int | float) -> float:
    """Parse a Go duration (``1m30s``, ``500ms``, ``1.5h``, ``-2s``, ``0``) into seconds.

    Numbers are taken as seconds (they only reach here from already-typed data).
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(
            f"{value!r} is not a duration; write it like 10s, 1m30s or 500ms "
            "(units ns, us, ms, s, m, h)"
        )
    return sign * total


_REFRESH_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")
_REFRESH_UNITS = {**_DURATION_UNITS, "d": 86400.0, "w": 604800.0}
_NAMED_REFRESH = {"daily": 86400.0, "weekly": 604800.0}


def pull_refresh_interval(policy: str, refresh_after: str | None = None) -> float | None:
    """Seconds after which ``pull_policy`` ``daily``/``weekly``/``every_<duration>`` (or
    ``refresh`` with ``pull_refresh_after: <duration>``) pulls again (compose-go's reading: Go
    duration units plus ``d`` and ``w``); None for the other policies (``refresh`` without a
    duration is ``missing``, as in compose-go); ValueError for a duration that is not positive."""
    if policy in _NAMED_REFRESH:
        return _NAMED_REFRESH[policy]
    if policy == "refresh" and refresh_after:
        return _refresh_duration(refresh_after, f"pull_refresh_after {refresh_after!r}")
    if not policy.startswith("every_"):
        return None
    return _refresh_duration(policy.removeprefix("every_"), f"{policy!r}")


def _refresh_duration(body: str, what: str) -> float:
    total, pos = 0.0, 0
    for match in _REFRESH_PART.finditer(body):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _REFRESH_UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body) or total <= 0:
        raise ValueError(f"{what} is not a refresh interval: write a duration like 12h, 2d "
                         "or 1w (pull_policy every_12h, every_2d, every_1w)")
    return total


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s?([kmgtp]?)(i?b?)", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(value: str | int | float) -> int:
    """Parse a byte size (``512m``, ``1g``, ``100k``, ``1.5GB``, ``2048``) into bytes.

    Like docker, unit letters are binary multiples (k = 1024) and case-insensitive; an optional
    ``b``/``ib`` suffix is accepted.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is not a size: it is negative")
        return value
    if isinstance(value, float):
        return parse_size(str(value))
    match = _SIZE.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a size; write bytes or a size like 512m, 1g, 100k")
    number, unit = match.group(1), match.group(2).lower()
    return int(float(number) * _SIZE_UNITS[unit])


@dataclass(frozen=True, slots=True)
class PortRange:
    """An inclusive port range; a single port has ``start == end``."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start + 1


def parse_port_range(text: str | int) -> PortRange:
    """Parse ``80`` or ``8000-8010`` into a PortRange, checking 0..65535 and start <= end."""
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a port")
    raw = str(text).strip()
    start_s, sep, end_s = raw.partition("-")
    if not start_s.isdigit() or (sep and not end_s.isdigit()):
        raise ValueError(f"{raw!r} is not a port number or range")
    start, end = int(start_s), int(end_s) if sep else int(start_s)
    for port in (start, end):
        if port > 65535:
            raise ValueError(f"port {port} is out of range 0-65535")
    if start > end:
        raise ValueError(f"port range {raw!r} ends before it starts")
    return PortRange(start, end)


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A parsed short-syntax port: ``[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]``."""

    target: PortRange
    published: PortRange | None
    host_ip: str
    protocol: str


def parse_port_spec(spec: str | int) -> PortSpec:
    """Parse a short-syntax port mapping; check numbers and that the ranges fit together."""
    text = str(spec).strip()
    body, _, protocol = text.partition("/")
    host_ip, published_s, target_s = _split_port_parts(body)
    target = parse_port_range(target_s)
    published = parse_port_range(published_s) if published_s else None
    check_range_sizes(published, target)
    return PortSpec(target, published, host_ip, check_protocol(protocol or "tcp", text))


PROTOCOLS = ("tcp", "udp", "sctp")


def check_protocol(protocol: str, spec: str | int) -> str:
    """``protocol`` if docker accepts it (tcp, udp, sctp; any case), else ValueError."""
    if protocol.lower() not in PROTOCOLS:
        raise ValueError(f"invalid protocol {protocol!r} in port {str(spec)!r}; use "
                         f"{', '.join(PROTOCOLS[:-1])} or {PROTOCOLS[-1]}")
    return protocol


def check_range_sizes(published: PortRange | None, target: PortRange) -> None:
    """A target range needs an equally long published range (a single target may take any)."""
    if published is not None and target.size > 1 and published.size != target.size:
        raise ValueError(
            f"published range {published.start}-{published.end} and target range "
            f"{target.start}-{target.end} have different sizes"
        )


def _split_port_parts(body: str) -> tuple[str, str, str]:
    """Split ``ip:published:target`` where ip may be IPv6 (bracketed or not)."""
    head, sep, target = body.rpartition(":")
    if not sep:
        return "", "", target
    ip, sep, published = head.rpartition(":")
    if not sep:
        return "", head, target
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    return ip, published, target
