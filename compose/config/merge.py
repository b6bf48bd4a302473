"""Merge compose files (and ``extends`` bases) with the Compose Specification's rules.

Mappings merge recursively and scalars are replaced. Per field:

* ``command``, ``entrypoint``, ``healthcheck.test`` and each ``ulimits`` entry are replaced;
* ``environment``, ``labels``, ``annotations``, ``sysctls``, ``extra_hosts``, ``build.args`` …
  are merged as mappings whatever syntax (list or mapping) each side uses;
* ``depends_on`` and service ``networks`` are merged as mappings (lists become mappings);
* other sequences are concatenated, then de-duplicated by their unique key (``ports`` by
  address/port/protocol, ``volumes``/``devices`` by target, ``secrets``/``configs`` by target,
  plain lists like ``dns``/``cap_add`` by value) — a later entry replaces an earlier one in place;
* ``!reset`` removes the value, ``!override`` replaces it without merging.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Callable

from compose.config.yamlload import Override, Reset

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

Path = tuple[str, ...]

REPLACE = ("services.*.command", "services.*.entrypoint", "services.*.healthcheck.test",
           "services.*.ulimits.*", "services.*.build.ulimits.*")
AS_MAPPING = (
    "services.*.environment", "services.*.labels", "services.*.annotations",
    "services.*.sysctls", "services.*.extra_hosts", "services.*.build.args",
    "services.*.build.labels", "services.*.build.extra_hosts",
    "services.*.build.additional_contexts", "services.*.deploy.labels",
    "services.*.depends_on", "services.*.networks", "networks.*.labels", "volumes.*.labels",
    "networks.*.driver_opts", "volumes.*.driver_opts", "secrets.*.labels", "configs.*.labels",
    "services.*.storage_opt", "services.*.logging.options",
)


def _match(path: Path, patterns: tuple[str, ...]) -> bool:
    dotted = ".".join(path)
    return any(
        len(p.split(".")) == len(path) and fnmatch.fnmatchcase(dotted, p) for p in patterns
    )


def merge_documents(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` onto ``base`` (both whole compose documents); returns a new dict."""
    merged = merge_value(base, override, ())
    return strip_markers(merged) if isinstance(merged, dict) else {}


def merge_value(base: Any, over: Any, path: Path) -> Any:
    """Merge one value of ``over`` onto ``base`` at key ``path``."""
    if isinstance(over, Override):
        return over.value
    if isinstance(over, Reset) or base is None:
        return over
    if over is None and not _match(path, AS_MAPPING):
        return base
    if _match(path, REPLACE):
        return over
    if _match(path, AS_MAPPING):
        return _merge_mappings(as_mapping(base, path), as_mapping(over, path), path)
    if path[-1:] == ("build",) and len(path) == 3:
        return _merge_mappings(_build_mapping(base), _build_mapping(over), path)
    if path[-1:] == ("logging",) and isinstance(base, dict) and isinstance(over, dict):
        if over.get("driver") not in (None, base.get("driver")):
            return over
    if isinstance(base, dict) and isinstance(over, dict):
        return _merge_mappings(base, over, path)
    if isinstance(base, list) and isinstance(over, list):
        return unique_items([*base, *over], path)
    return over


def _merge_mappings(base: dict[str, Any], over: dict[str, Any], path: Path) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Reset):
            out.pop(key, None)
        elif key in out:
            out[key] = merge_value(out[key], value, (*path, key))
        else:
            out[key] = value.value if isinstance(value, Override) else value
    return out


def _build_mapping(value: Any) -> Any:
    return {"context": value} if isinstance(value, str) else value


def as_mapping(value: Any, path: Path = ()) -> Any:
    """A list form (``KEY=VALUE`` strings, names, or ``host:ip`` for extra_hosts) as a dict.

    Non-list values are returned unchanged (the schema reports wrong types)."""
    if not isinstance(value, list):
        return value
    out: dict[str, Any] = {}
    hosts = bool(path) and path[-1] == "extra_hosts"
    for item in value:
        if not isinstance(item, str):
            out[str(item)] = None
            continue
        if hosts:
            key, value_ = _split_host(item)
        elif "=" in item:
            key, value_ = item.split("=", 1)
        else:
            key, value_ = item, None
        out[key] = value_
    return out


def _split_host(entry: str) -> tuple[str, str | None]:
    sep = "=" if "=" in entry else ":"
    host, _, address = entry.partition(sep)
    return host, address or None


def unique_items(items: list[Any], path: Path) -> list[Any]:
    """De-duplicate a merged list by each item's unique key; later entries win in place."""
    key_of = _INDEXERS.get(path[-1] if path else "", _plain_key)
    out: list[Any] = []
    index: dict[Any, int] = {}
    for item in items:
        key = key_of(item)
        if key is not None and key in index:
            out[index[key]] = item
        else:
            if key is not None:
                index[key] = len(out)
            out.append(item)
    return out


def _plain_key(item: Any) -> Any:
    return item if isinstance(item, (str, int, float, bool)) else None


def _target_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target")
    if isinstance(item, str):
        parts = item.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return None


def _file_ref_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target") or item.get("source")
    return item if isinstance(item, str) else None


def _port_key(item: Any) -> Any:
    if isinstance(item, dict):
        return (item.get("host_ip"), str(item.get("published")), str(item.get("target")),
                item.get("protocol", "tcp"))
    return str(item)


def _volume_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target")
    if isinstance(item, str):
        from compose.config.syntax import parse_volume_short

        try:
            return parse_volume_short(item)["target"]
        except ValueError:
            return item
    return None


_INDEXERS: dict[str, Callable[[Any], Any]] = {
    "ports": _port_key,
    "volumes": _volume_key,
    "devices": _target_key,
    "secrets": _file_ref_key,
    "configs": _file_ref_key,
    "env_file": lambda item: item.get("path") if isinstance(item, dict) else item,
    "profiles": _plain_key,
}


def strip_markers(data: Any) -> Any:
    """Remove ``!reset`` values and unwrap ``!override`` ones left in a single document."""
    if isinstance(data, Override):
        return strip_markers(data.value)
    if isinstance(data, dict):
        return {k: strip_markers(v) for k, v in data.items() if not isinstance(v, Reset)}
    if isinstance(data, list):
        return [strip_markers(v) for v in data if not isinstance(v, Reset)]
    return data
