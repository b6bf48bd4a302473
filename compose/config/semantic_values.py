"""Semantic checks on one service's values: ports, mounts, units, restart and pull policies.

Part of :func:`compose.config.semantics.check_semantics`. Each check yields ``(key path under
the service, problem)``; values still holding ``$`` (interpolation off) are not parsed.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from compose.config.positions import KeyPath
from compose.config.units import (
    check_protocol,
    check_range_sizes,
    parse_duration,
    parse_port_range,
    parse_port_spec,
    parse_size,
    pull_refresh_interval,
)
from compose.config.walk import entries, get_in, has_interpolation

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

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
_RESTART = re.compile(r"no|always|unless-stopped|on-failure(:\d+)?")
_PULL_POLICY = re.compile(
    r"always|never|missing|if_not_present|build|refresh|daily|weekly|every_(\d+[wdhms])+")
_HEALTH_KINDS = ("NONE", "CMD", "CMD-SHELL")
# Bounds the kernel or docker enforce; checked here so the error points at the line.
INT_BOUNDS: tuple[tuple[KeyPath, int, int], ...] = (
    (("oom_score_adj",), -1000, 1000), (("mem_swappiness",), -1, 100),
    (("blkio_config", "weight"), 10, 1000), (("cpu_shares",), 0, 2**18),
    (("scale",), 0, 2**31), (("deploy", "replicas"), 0, 2**31),
)


def check_service_values(svc: dict, volumes: frozenset[str]) -> Iterator[Problem]:
    """Every value check for one service; ``volumes`` are the declared named volumes."""
    yield from _check_ports(svc)
    yield from _check_volumes(svc, volumes)
    yield from _check_units(svc)
    yield from _check_policies(svc)
    yield from _check_ulimits(svc)
    yield from _check_container_name(svc)
    yield from _check_image_source(svc)
    yield from _check_duplicate_settings(svc)
    yield from _check_mount_targets(svc)
    yield from _check_watch(svc)
    yield from _check_extra_hosts(svc)
    yield from _check_mac_addresses(svc)


_MAC = re.compile(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}")


def _check_mac_addresses(svc: dict) -> Iterator[Problem]:
    """MAC addresses docker would refuse when creating the container, refused here first."""
    found: list[tuple[KeyPath, Any]] = [(("mac_address",), svc.get("mac_address"))]
    nets = svc.get("networks")
    if isinstance(nets, dict):
        found += [(("networks", k, "mac_address"), v.get("mac_address"))
                  for k, v in nets.items() if isinstance(v, dict)]
    for path, mac in found:
        if isinstance(mac, str) and not has_interpolation(mac) and not _MAC.fullmatch(mac):
            yield path, f"{mac!r} is not a MAC address (write six hex pairs: 02:42:ac:11:00:02)"


def _check_extra_hosts(svc: dict) -> Iterator[Problem]:
    """``host=ip`` / ``host:ip`` entries (compose-go refuses an entry without an address)."""
    for base in ((), ("build",)):
        hosts = get_in(svc, (*base, "extra_hosts"))
        if not isinstance(hosts, list):
            continue
        for index, entry in enumerate(hosts):
            if not isinstance(entry, str) or has_interpolation(entry):
                continue
            sep = "=" if "=" in entry else ":"
            host, found, _ip = entry.partition(sep)
            if not found:
                yield (*base, "extra_hosts", index), (
                    f"invalid additional host, missing IP: {entry!r} (write HOST=IP)")
            elif not host or ":" in host or "=" in host:
                yield (*base, "extra_hosts", index), f"bad host name {host!r} in {entry!r}"


def _check_ports(svc: dict) -> Iterator[Problem]:
    for index, port in entries(svc.get("ports")):
        try:
            if isinstance(port, dict):
                _check_long_port(port)
            elif not has_interpolation(port):
                parse_port_spec(port)
        except ValueError as exc:
            yield ("ports", index), str(exc)
    for index, port in entries(svc.get("expose")):
        try:
            if not has_interpolation(port):
                number, _, protocol = str(port).partition("/")
                parse_port_range(number)
                check_protocol(protocol or "tcp", port)
        except ValueError as exc:
            yield ("expose", index), str(exc)


def _check_long_port(port: dict) -> None:
    target, published = port.get("target"), port.get("published")
    protocol = port.get("protocol")
    if isinstance(protocol, str) and not has_interpolation(protocol):
        check_protocol(protocol, f"{target}/{protocol}")
    if has_interpolation(target) or has_interpolation(published):
        return
    target_range = parse_port_range(target) if target is not None else None
    published_range = parse_port_range(published) if published not in (None, "") else None
    if target_range is not None:
        check_range_sizes(published_range, target_range)


def _check_volumes(svc: dict, volumes: frozenset[str]) -> Iterator[Problem]:
    for index, volume in entries(svc.get("volumes")):
        if has_interpolation(volume):
            continue
        problem = (_short_volume_problem(volume, volumes) if isinstance(volume, str)
                   else _long_volume_problem(volume, volumes) if isinstance(volume, dict)
                   else None)
        if problem:
            yield ("volumes", index), problem


def is_named_volume(source: str) -> bool:
    """True when a mount source names a volume rather than a host path."""
    return bool(source) and not source.startswith((".", "/", "~", "\\")) and not (
        len(source) > 1 and source[1] == ":")  # C:\ style Windows paths


def _short_volume_problem(spec: str, volumes: frozenset[str]) -> str | None:
    parts = spec.split(":")
    if len(parts) > 3:
        return f"{spec!r} is not a valid volume; write [SOURCE:]TARGET[:MODE]"
    if len(parts) == 3:
        bad = [m for m in parts[2].split(",") if m not in VOLUME_MODES]
        if bad:
            return (f"{bad[0]!r} is not a valid volume mode in {spec!r}; "
                    "use ro, rw, z, Z, nocopy or a propagation mode such as rshared")
    target = parts[1] if len(parts) > 1 else parts[0]
    if not target.startswith("/"):
        return f"the mount target {target!r} in {spec!r} must be an absolute path"
    source = parts[0] if len(parts) > 1 else ""
    if is_named_volume(source) and source not in volumes:
        return (f"volume {source!r} is not defined under the top-level volumes key; "
                "declare it there or use a path starting with ./ or /")
    return None


def _long_volume_problem(spec: dict, volumes: frozenset[str]) -> str | None:
    source, kind = spec.get("source"), spec.get("type")
    if kind == "volume" and isinstance(source, str) and source and source not in volumes:
        if not has_interpolation(source):
            return f"volume {source!r} is not defined under the top-level volumes key"
    if kind in ("bind", "image") and not source:
        return f"a {kind} mount needs a source"
    size = get_in(spec, ("tmpfs", "size"))
    if size is not None and not has_interpolation(size):
        try:
            parse_size(size)
        except ValueError as exc:
            return f"tmpfs size: {exc}"
    target = spec.get("target")
    if isinstance(target, str) and not target.startswith("/") and not has_interpolation(target):
        return f"the mount target {target!r} must be an absolute path"
    return None


def _check_units(svc: dict) -> Iterator[Problem]:
    parsers: tuple[tuple[tuple[KeyPath, ...], Callable[[Any], Any]], ...] = (
        (DURATION_KEYS, parse_duration), (SIZE_KEYS, parse_size),
        (INT_KEYS, parse_int), (FLOAT_KEYS, _parse_float),
    )
    for paths, parse in parsers:
        for path in paths:
            value = get_in(svc, path)
            if value is None or has_interpolation(value):
                continue
            try:
                parse(value)
            except ValueError as exc:
                yield path, str(exc)
    for path, low, high in INT_BOUNDS:
        value = get_in(svc, path)
        try:
            number = parse_int(value) if value is not None else None
        except ValueError:
            continue  # reported above (or left for interpolation)
        if number is not None and not low <= number <= high:
            yield path, f"{number} is out of range {low}..{high}"
    swap = svc.get("memswap_limit")
    if swap is not None and str(swap) != "-1" and not has_interpolation(swap):
        try:
            parse_size(swap)
        except ValueError as exc:
            yield ("memswap_limit",), f"{exc} (or -1 for unlimited swap)"


def parse_int(value: Any) -> int:
    """An integer from an int or an interpolated string; ValueError with a sentence otherwise."""
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None


def _parse_float(value: Any) -> float:
    try:
        return float(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None


def _check_policies(svc: dict) -> Iterator[Problem]:
    restart = svc.get("restart")
    if isinstance(restart, str) and not has_interpolation(restart):
        if not _RESTART.fullmatch(restart):
            yield ("restart",), (f"{restart!r} is not a restart policy; use no, always, "
                                 "on-failure[:max-retries] or unless-stopped")
    pull = svc.get("pull_policy")
    if isinstance(pull, str) and not has_interpolation(pull):
        if not _PULL_POLICY.fullmatch(pull) and not pull.startswith("every_"):
            yield ("pull_policy",), (f"{pull!r} is not a pull policy; use always, never, "
                                     "missing, build, daily, weekly or every_<duration>")
        after = svc.get("pull_refresh_after")
        try:
            pull_refresh_interval(pull)
        except ValueError as exc:
            yield ("pull_policy",), str(exc)
        if isinstance(after, str) and not has_interpolation(after):
            try:
                pull_refresh_interval("refresh", after)
            except ValueError as exc:
                yield ("pull_refresh_after",), str(exc)
    test = get_in(svc, ("healthcheck", "test"))
    if isinstance(test, list) and test and test[0] not in _HEALTH_KINDS:
        yield ("healthcheck", "test"), (
            f"a healthcheck test list must start with NONE, CMD or CMD-SHELL, not {test[0]!r}")


def _check_ulimits(svc: dict) -> Iterator[Problem]:
    for name, limit in entries(svc.get("ulimits")):
        if not isinstance(limit, dict):
            continue
        try:
            soft, hard = parse_int(limit.get("soft")), parse_int(limit.get("hard"))
        except ValueError:
            continue  # interpolation left, or the schema already said what is wrong
        if soft > hard:
            yield ("ulimits", name), (
                f"the soft limit {soft} is above the hard limit {hard}")


def _check_container_name(svc: dict) -> Iterator[Problem]:
    if not svc.get("container_name"):
        return
    for path in (("scale",), ("deploy", "replicas")):
        value = get_in(svc, path)
        try:
            count = parse_int(value) if value is not None else 1
        except ValueError:
            continue
        if count > 1:
            yield ("container_name",), (
                f"container_name is set, so the service cannot run {count} replicas "
                f"({'.'.join(path)}); remove container_name or run one replica")


def _check_image_source(svc: dict) -> Iterator[Problem]:
    if not svc.get("image") and svc.get("build") is None and svc.get("provider") is None:
        yield (), "the service has neither an image nor a build; set one of them"
    build = svc.get("build")
    if not isinstance(build, dict):
        return
    if build.get("dockerfile") and build.get("dockerfile_inline"):
        yield ("build", "dockerfile_inline"), (
            "dockerfile and dockerfile_inline cannot both be set; keep one")
    platform, platforms = svc.get("platform"), build.get("platforms")
    if platform and isinstance(platforms, list) and platforms and platform not in platforms:
        yield ("build", "platforms"), (
            f"build.platforms must include the service platform {platform!r}")


# (service key, deploy key): compose refuses two different values for the same setting.
_SAME_SETTING: tuple[tuple[KeyPath, KeyPath, Callable[[Any], Any]], ...] = (
    (("cpus",), ("deploy", "resources", "limits", "cpus"), lambda v: float(str(v))),
    (("mem_limit",), ("deploy", "resources", "limits", "memory"), parse_size),
    (("mem_reservation",), ("deploy", "resources", "reservations", "memory"), parse_size),
    (("pids_limit",), ("deploy", "resources", "limits", "pids"), parse_int),
    (("scale",), ("deploy", "replicas"), parse_int),
)


def _check_duplicate_settings(svc: dict) -> Iterator[Problem]:
    for short, long, parse in _SAME_SETTING:
        first, second = get_in(svc, short), get_in(svc, long)
        if first is None or second is None:
            continue
        try:
            differ = parse(first) != parse(second)
        except ValueError:
            continue  # reported by the unit checks, or interpolation left
        if differ:
            yield short, (f"{short[0]} ({first}) and {'.'.join(map(str, long))} ({second}) "
                          "differ; set only one of them")


def _check_mount_targets(svc: dict) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    tmpfs = svc.get("tmpfs")
    for index, entry in entries([tmpfs] if isinstance(tmpfs, str) else tmpfs):
        target = str(entry).split(":", 1)[0]
        seen.setdefault(target, f"tmpfs[{index}]")
    for index, volume in entries(svc.get("volumes")):
        mount = _mount_target(volume)
        if mount is None or has_interpolation(mount):
            continue
        if mount in seen:
            yield ("volumes", index), f"{mount} is already mounted by {seen[mount]}"
        seen.setdefault(mount, f"volumes[{index}]")


def _mount_target(volume: Any) -> str | None:
    if isinstance(volume, dict):
        target = volume.get("target")
        return target.rstrip("/") or "/" if isinstance(target, str) else None
    if isinstance(volume, str):
        parts = volume.split(":")
        target = parts[1] if len(parts) > 1 else parts[0]
        return target.rstrip("/") or "/"
    return None


def _check_watch(svc: dict) -> Iterator[Problem]:
    for index, watch in entries(get_in(svc, ("develop", "watch"))):
        if isinstance(watch, dict) and not watch.get("target") and watch.get("action") not in (
                "rebuild", "restart"):
            yield ("develop", "watch", index), (
                f"action {watch.get('action')!r} needs a target path in the container")
