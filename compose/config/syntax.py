"""Parsers for compose short syntaxes: ports, volumes, devices; Go-style duration output.

Each returns the long-syntax mapping (what ``pycompose config`` prints) and raises ValueError
with a sentence on bad input; callers attach file/line/key path.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any


VOLUME_MODES = frozenset({"ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated",
                          "shared", "rshared", "slave", "rslave", "private", "rprivate"})
_PROPAGATION = frozenset({"shared", "rshared", "slave", "rslave", "private", "rprivate"})


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` rendering (``1m30s``, ``500ms``, ``1h0m0s``)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    secs = _trim(rest / 1e9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}"
    if minutes:
        return f"{sign}{minutes}m{secs}"
    return sign + secs


def _trim(number: float) -> str:
    text = f"{number:.9f}".rstrip("0").rstrip(".")
    return text or "0"


def parse_port_spec(spec: Any) -> list[dict[str, Any]]:
    """Long-syntax port mappings from a short-syntax entry (ranges expand to several)."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        return [{"mode": "ingress", "target": spec, "protocol": "tcp"}]
    text = str(spec)
    text, _, protocol = text.partition("/")
    host_ip, published, target = _split_port(text)
    targets = _port_range(target, text)
    entry: dict[str, Any] = {"mode": "ingress"}
    if host_ip:
        _check_ip(host_ip, spec)
        entry["host_ip"] = host_ip
    if not published:
        return [{**entry, "target": t, "protocol": protocol or "tcp"} for t in targets]
    pubs = _port_range(published, text)
    if len(targets) == 1:
        pub = published if len(pubs) > 1 else str(pubs[0])
        return [{**entry, "target": targets[0], "published": pub, "protocol": protocol or "tcp"}]
    if len(pubs) != len(targets):
        raise ValueError(f"port range {spec!r}: the published and container ranges differ in size")
    return [{**entry, "target": t, "published": str(p), "protocol": protocol or "tcp"}
            for t, p in zip(targets, pubs, strict=True)]


def _check_ip(host_ip: str, spec: Any) -> None:
    import ipaddress

    try:
        ipaddress.ip_address(host_ip)
    except ValueError:
        raise ValueError(f"invalid port {spec!r}: {host_ip!r} is not an IP address") from None


def _split_port(text: str) -> tuple[str, str, str]:
    if text.startswith("["):  # [ipv6]:published:target
        close = text.find("]")
        host, rest = text[1:close], text[close + 2 :]
        published, _, target = rest.rpartition(":")
        return host, published, target
    parts = text.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    host = ":".join(parts[:-2])  # bare IPv6 host
    return host, parts[-2], parts[-1]


def _port_range(text: str, spec: str) -> list[int]:
    start, sep, end = text.partition("-")
    try:
        low = int(start)
        high = int(end) if sep else low
    except ValueError:
        raise ValueError(f"invalid port {spec!r}: {text!r} is not a port or range") from None
    if not (0 <= low <= high <= 65535):
        raise ValueError(f"invalid port {spec!r}: ports must be 0-65535, ranges low-high")
    return list(range(low, high + 1))


def is_path(source: str) -> bool:
    """Short-syntax volume sources that are host paths (the rest name volumes)."""
    return source.startswith((".", "/", "~")) or source == ""


def parse_volume_short(spec: str) -> dict[str, Any]:
    """Long syntax for ``[source:]target[:mode]`` (source paths are left unresolved)."""
    parts = spec.split(":")
    if len(parts) > 3 or not parts[-1] and len(parts) > 1:
        raise ValueError(f"invalid volume specification {spec!r}")
    if len(parts) == 1:
        return {"type": "volume", "target": parts[0], "volume": {}}
    mode = parts[2] if len(parts) == 3 else ""
    source, target = parts[0], parts[1]
    out: dict[str, Any] = {"type": "bind" if is_path(source) else "volume",
                           "source": source, "target": target}
    modes = [m for m in mode.split(",") if m]
    bad = [m for m in modes if m not in VOLUME_MODES]
    if bad:
        raise ValueError(f"invalid volume specification {spec!r}: unknown mode {bad[0]!r}")
    if "ro" in modes:
        out["read_only"] = True
    if out["type"] == "bind":
        out["bind"] = _bind_options(modes)
    else:
        out["volume"] = {"nocopy": True} if "nocopy" in modes else {}
    return out


def _bind_options(modes: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {"create_host_path": True}
    for mode in modes:
        if mode in _PROPAGATION:
            options["propagation"] = mode
        elif mode in ("z", "Z"):
            options["selinux"] = mode
    return options


def resolve_host_path(path: str, base: str) -> str:
    """Absolute host path for a bind source or file relative to ``base`` (``~`` expands)."""
    expanded = os.path.expanduser(path)
    return os.path.normpath(os.path.join(base, expanded))


def parse_device(spec: Any) -> dict[str, Any]:
    """``source[:target[:permissions]]`` or ``source:permissions`` to a long-syntax mapping."""
    if isinstance(spec, dict):
        return {"permissions": "rwm", **spec}
    parts = str(spec).split(":")
    if len(parts) > 3 or not parts[0]:
        raise ValueError(f"invalid device specification {spec!r}")
    target = parts[1] if len(parts) > 1 else parts[0]
    permissions = parts[2] if len(parts) > 2 else "rwm"
    if len(parts) == 2 and parts[1] and set(parts[1]) <= set("rwm"):
        target, permissions = parts[0], parts[1]  # ``/dev/x:rw`` (docker's short form)
    return {"source": parts[0], "target": target, "permissions": permissions}
