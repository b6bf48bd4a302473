"""Semantic checks on the merged project dict: what a JSON Schema cannot say.

References between services and to top-level networks/volumes/secrets/configs/models, self
dependencies, port numbers and ranges, durations, sizes, volume modes and conflicting keys. The
first problem (in file order of the services) is raised as one ConfigError sentence located
through the position map. Values still holding ``$`` (files read with interpolation off) are not
parsed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from compose.config.positions import KeyPath, PositionMap, error_at
from compose.config.units import (
    check_range_sizes,
    parse_duration,
    parse_port_range,
    parse_port_spec,
    parse_size,
)

Problem = tuple[KeyPath, str]

DURATION_KEYS: tuple[KeyPath, ...] = (
    ("healthcheck", "interval"), ("healthcheck", "timeout"), ("healthcheck", "start_period"),
    ("healthcheck", "start_interval"), ("stop_grace_period",),
    ("deploy", "restart_policy", "delay"), ("deploy", "restart_policy", "window"),
    ("deploy", "update_config", "delay"), ("deploy", "update_config", "monitor"),
    ("deploy", "rollback_config", "delay"), ("deploy", "rollback_config", "monitor"),
)
SIZE_KEYS: tuple[KeyPath, ...] = (
    ("shm_size",), ("mem_limit",), ("mem_reservation",), ("build", "shm_size"),
    ("deploy", "resources", "limits", "memory"), ("deploy", "resources", "reservations", "memory"),
)
INT_KEYS: tuple[KeyPath, ...] = (
    ("scale",), ("deploy", "replicas"), ("pids_limit",), ("cpu_shares",), ("cpu_quota",),
    ("cpu_period",), ("mem_swappiness",), ("oom_score_adj",), ("healthcheck", "retries"),
)
FLOAT_KEYS: tuple[KeyPath, ...] = (
    ("cpus",), ("deploy", "resources", "limits", "cpus"),
    ("deploy", "resources", "reservations", "cpus"),
)
VOLUME_MODES = frozenset({
    "rw", "ro", "z", "Z", "nocopy", "copy", "consistent", "cached", "delegated",
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
})


@dataclass(frozen=True, slots=True)
class _Project:
    """The names a service may refer to."""

    services: frozenset[str]
    networks: frozenset[str]
    volumes: frozenset[str]
    secrets: frozenset[str]
    configs: frozenset[str]
    models: frozenset[str]


def check_semantics(project: dict, positions: PositionMap) -> None:
    """Raise ConfigError for the first semantic mistake in the merged project dict."""
    names = _Project(*(frozenset(project.get(k) or {}) for k in (
        "services", "networks", "volumes", "secrets", "configs", "models")))
    for name, service in (project.get("services") or {}).items():
        if not isinstance(service, dict):
            continue
        base: KeyPath = ("services", name)
        for check in _SERVICE_CHECKS:
            for path, problem in check(names, name, service):
                raise error_at(problem, base + path, positions)


def _get(data: Any, path: KeyPath) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _interpolation_left(value: Any) -> bool:
    return isinstance(value, str) and "$" in value


def _items(value: Any) -> Iterator[tuple[str | int, Any]]:
    """(key, entry) pairs of a list or a mapping (as written in the file)."""
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, list):
        yield from enumerate(value)


def _ref_names(value: Any) -> Iterator[tuple[str | int, str]]:
    """Names referred to by a list/map of names or of long-syntax ``{source: ...}`` items."""
    for key, entry in _items(value):
        if isinstance(value, dict):
            yield key, str(key)
        elif isinstance(entry, str):
            yield key, entry
        elif isinstance(entry, dict) and isinstance(entry.get("source"), str):
            yield key, entry["source"]


def _check_networks(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    for key, net in _ref_names(svc.get("networks")):
        if net != "default" and net not in names.networks:
            yield ("networks", key), (
                f"service {name!r} uses network {net!r}, which is not defined under the "
                "top-level networks key")
    mode = svc.get("network_mode")
    if mode is not None and svc.get("networks"):
        yield ("network_mode",), (
            "network_mode and networks cannot both be set; remove one of them")
    if isinstance(mode, str) and mode.startswith("service:"):
        target = mode.split(":", 1)[1]
        if target == name:
            yield ("network_mode",), f"service {name!r} cannot use its own network stack"
        elif target not in names.services and not _interpolation_left(target):
            yield ("network_mode",), (
                f"network_mode refers to service {target!r}, which is not defined")


def _check_resources(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    tables = (("secrets", names.secrets), ("configs", names.configs))
    for key, known in tables:
        for index, ref in _ref_names(svc.get(key)):
            if ref not in known:
                yield (key, index), (
                    f"service {name!r} uses {key[:-1]} {ref!r}, which is not defined under "
                    f"the top-level {key} key")
    build = svc.get("build")
    if isinstance(build, dict):
        for index, ref in _ref_names(build.get("secrets")):
            if ref not in names.secrets:
                yield ("build", "secrets", index), (
                    f"the build of service {name!r} uses secret {ref!r}, which is not defined "
                    "under the top-level secrets key")
    for index, ref in _ref_names(svc.get("models")):
        if ref not in names.models:
            yield ("models", index), (
                f"service {name!r} uses model {ref!r}, which is not defined under the "
                "top-level models key")


def _check_dependencies(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    deps = svc.get("depends_on")
    for key, dep in _ref_names(deps):
        spec = deps.get(dep) if isinstance(deps, dict) else None
        optional = isinstance(spec, dict) and str(spec.get("required", True)).lower() == "false"
        if dep == name:
            yield ("depends_on", key), f"service {name!r} depends on itself"
        elif dep not in names.services and not optional:
            yield ("depends_on", key), (
                f"service {name!r} depends on undefined service {dep!r}")
    for index, link in _items(svc.get("links")):
        target = str(link).split(":", 1)[0]
        if target not in names.services:
            yield ("links", index), f"service {name!r} links to undefined service {target!r}"
    yield from _check_volumes_from(names, name, svc)
    extends = svc.get("extends")
    if isinstance(extends, str) or (isinstance(extends, dict) and not extends.get("file")):
        base = extends if isinstance(extends, str) else extends.get("service")
        if base not in names.services:
            yield ("extends",), f"service {name!r} extends undefined service {base!r}"


def _check_volumes_from(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    for index, entry in _items(svc.get("volumes_from")):
        parts = str(entry).split(":")
        if parts[0] == "container":
            continue
        if parts[0] not in names.services:
            yield ("volumes_from", index), (
                f"service {name!r} takes volumes from undefined service {parts[0]!r}")
        elif len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("ro", "rw")):
            yield ("volumes_from", index), (
                f"{entry!r} is not a valid volumes_from entry; write SERVICE[:ro|rw]")


def _check_ports(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    for index, port in _items(svc.get("ports")):
        try:
            if isinstance(port, dict):
                _check_long_port(port)
            elif not _interpolation_left(port):
                parse_port_spec(port)
        except ValueError as exc:
            yield ("ports", index), str(exc)
    for index, port in _items(svc.get("expose")):
        try:
            if not _interpolation_left(port):
                parse_port_range(str(port).partition("/")[0])
        except ValueError as exc:
            yield ("expose", index), str(exc)


def _check_long_port(port: dict) -> None:
    target, published = port.get("target"), port.get("published")
    if _interpolation_left(target) or _interpolation_left(published):
        return
    target_range = parse_port_range(target) if target is not None else None
    published_range = parse_port_range(published) if published not in (None, "") else None
    if target_range is not None:
        check_range_sizes(published_range, target_range)


def _check_volumes(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    for index, volume in _items(svc.get("volumes")):
        if _interpolation_left(volume):
            continue
        problem = (_short_volume_problem(volume, names) if isinstance(volume, str)
                   else _long_volume_problem(volume, names) if isinstance(volume, dict)
                   else None)
        if problem:
            yield ("volumes", index), problem


def _is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "~", "\\")) and not (
        len(source) > 1 and source[1] == ":")  # C:\ style Windows paths


def _short_volume_problem(spec: str, names: _Project) -> str | None:
    parts = spec.split(":")
    if len(parts) > 3:
        return f"{spec!r} is not a valid volume; write [SOURCE:]TARGET[:MODE]"
    if len(parts) == 3:
        bad = [m for m in parts[2].split(",") if m not in VOLUME_MODES]
        if bad:
            return (f"{bad[0]!r} is not a valid volume mode in {spec!r}; "
                    "use ro, rw, z, Z, nocopy or a propagation mode such as rshared")
    target = parts[1] if len(parts) > 1 else parts[0]
    if not target.startswith("/") and not _interpolation_left(target):
        return f"the mount target {target!r} in {spec!r} must be an absolute path"
    source = parts[0] if len(parts) > 1 else ""
    if _is_named_volume(source) and source not in names.volumes:
        return (f"volume {source!r} is not defined under the top-level volumes key; "
                "declare it there or use a path starting with ./ or /")
    return None


def _long_volume_problem(spec: dict, names: _Project) -> str | None:
    source, kind = spec.get("source"), spec.get("type")
    if kind == "volume" and isinstance(source, str) and source and source not in names.volumes:
        return f"volume {source!r} is not defined under the top-level volumes key"
    if kind in ("bind", "image") and not source:
        return f"a {kind} mount needs a source"
    size = _get(spec, ("tmpfs", "size"))
    if size is not None and not _interpolation_left(size):
        try:
            parse_size(size)
        except ValueError as exc:
            return f"tmpfs size: {exc}"
    target = spec.get("target")
    if isinstance(target, str) and not target.startswith("/") and not _interpolation_left(target):
        return f"the mount target {target!r} must be an absolute path"
    return None


def _check_units(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    parsers: tuple[tuple[tuple[KeyPath, ...], Callable[[Any], Any]], ...] = (
        (DURATION_KEYS, parse_duration), (SIZE_KEYS, parse_size),
        (INT_KEYS, _parse_int), (FLOAT_KEYS, _parse_float),
    )
    for paths, parse in parsers:
        for path in paths:
            value = _get(svc, path)
            if value is None or _interpolation_left(value):
                continue
            try:
                parse(value)
            except ValueError as exc:
                yield path, str(exc)
    swap = svc.get("memswap_limit")
    if swap is not None and str(swap) != "-1" and not _interpolation_left(swap):
        try:
            parse_size(swap)
        except ValueError as exc:
            yield ("memswap_limit",), f"{exc} (or -1 for unlimited swap)"


def _parse_int(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None


def _parse_float(value: Any) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None


def _check_container_name(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    if not svc.get("container_name"):
        return
    for path in (("scale",), ("deploy", "replicas")):
        value = _get(svc, path)
        try:
            count = _parse_int(value) if value is not None else 1
        except ValueError:
            continue
        if count > 1:
            yield ("container_name",), (
                f"container_name is set, so service {name!r} cannot run {count} replicas "
                f"({'.'.join(path)}); remove container_name or run one replica")


_SERVICE_CHECKS: tuple[Callable[[_Project, str, dict], Iterator[Problem]], ...] = (
    _check_networks, _check_resources, _check_dependencies, _check_ports, _check_volumes,
    _check_units, _check_container_name,
)
