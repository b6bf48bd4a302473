"""Turn a merged, validated compose mapping into docker compose's canonical long-syntax form.

The result is still a plain mapping (what ``pycompose config`` prints); :mod:`assembly` turns it
into the frozen model. Relative paths are resolved against the project directory, ``env_file``
is folded into ``environment``, the ``default`` network and real resource names are filled in.
"""
from __future__ import annotations

import functools
import importlib
import os
import posixpath
import shlex
from collections.abc import Callable, Mapping

from compose.config.environment import file_labels, resolve_build_args, service_environment
from compose.config.interpolation import config_error_at
from compose.config.merge import as_mapping
from compose.config.positions import PositionMap
from compose.config.syntax import (
    format_duration,
    parse_device,
    parse_port_spec,
    parse_volume_short,
    resolve_host_path,
)
from compose.config.units import parse_duration, parse_size
from compose.errors import ConfigError

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    from compose.config.discovery import StrPath

DURATION_KEYS = ("interval", "timeout", "start_period", "start_interval")
SIZE_KEYS = ("mem_limit", "mem_reservation", "memswap_limit", "shm_size")
LIST_KEYS = ("dns", "dns_search", "tmpfs", "env_file", "label_file")
_URL_PREFIXES = ("http://", "https://", "git://", "git@", "github.com/", "ssh://")


def normalize_project(
    data: Mapping[str, Any], name: str, working_dir: StrPath, env: Mapping[str, str],
    positions: PositionMap | None = None, strict: bool = True, targets: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Return the canonical mapping: ``name`` first, then services, networks, volumes, …

    With ``strict`` off (files read without interpolation) values that cannot be parsed are
    kept as written instead of being reported. With ``targets`` (the services a command
    names), a service outside them and their dependencies may name an env file that is
    missing: like docker compose, only the services a command uses need theirs."""
    base = os.fspath(working_dir)
    raw = data.get("services") or {}
    wanted = needed_services(raw, targets) if targets else None
    services = {
        key: normalize_service(key, svc or {}, base, env, positions or {}, strict,
                               env_files=wanted is None or key in wanted)
        for key, svc in sorted(raw.items())
    }
    out: dict[str, Any] = {"name": name, "services": services}
    networks = _named_resources(data.get("networks"), name, _NETWORK_ORDER)
    if any("default" in (s.get("networks") or {}) for s in services.values()):
        networks.setdefault("default", {"name": f"{name}_default"})
    for key, section in (("networks", networks),
                         ("volumes", _named_resources(data.get("volumes"), name, _VOLUME_KEYS)),
                         ("secrets", _file_objects(data.get("secrets"), name, base)),
                         ("configs", _file_objects(data.get("configs"), name, base))):
        if section:
            out[key] = dict(sorted(section.items()))
    # Anything else the schema allowed (e.g. top-level `models`) is kept, never dropped.
    handled = {"name", "services", "networks", "volumes", "secrets", "configs", "include"}
    out.update({k: v for k, v in data.items() if k not in handled and not k.startswith("x-")})
    out.update({k: v for k, v in data.items() if k.startswith("x-")})
    return out


def _named_resources(section: Any, project: str, order: tuple[str, ...]) -> dict[str, Any]:
    """Top-level resources with their real names (``<project>_<key>`` unless ``name`` is set
    or the resource is external, then the key) and keys in docker compose's order."""
    out: dict[str, Any] = {}
    for key, value in (section or {}).items():
        res = dict(value or {})
        external = res.get("external")
        if isinstance(external, dict):  # legacy `external: {name: x}`
            res["name"] = external.get("name", res.get("name"))
            res["external"] = True
        if not res.get("name"):
            res["name"] = key if res.get("external") else f"{project}_{key}"
        if "labels" in res:
            res["labels"] = _string_map(as_mapping(res["labels"]))
        out[key] = _sorted_by(res, order)
    return out


def _file_objects(section: Any, project: str, base: str) -> dict[str, Any]:
    out = _named_resources(section, project, _FILE_OBJECT_ORDER)
    for res in out.values():
        if res.get("file"):
            res["file"] = resolve_host_path(str(res["file"]), base)
    return out


def needed_services(services: Mapping[str, Any], targets: tuple[str, ...]) -> set[str]:
    """``targets`` and what they depend on (depends_on, links, ``service:`` network mode,
    volumes_from), transitively, read from the raw service mappings."""
    seen: set[str] = set()
    todo = [t for t in targets if t in services]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        svc = services.get(name) or {}
        deps = list(as_mapping(svc.get("depends_on") or {}))
        deps += [str(link).split(":")[0] for link in svc.get("links") or ()]
        mode = str(svc.get("network_mode") or "")
        deps += [mode[len("service:"):]] if mode.startswith("service:") else []
        deps += [str(v).split(":")[0] for v in svc.get("volumes_from") or ()
                 if not str(v).startswith("container:")]
        todo += [d for d in deps if d in services]
    return seen


def normalize_service(
    name: str, svc: Mapping[str, Any], base: str, env: Mapping[str, str],
    positions: PositionMap | None = None, strict: bool = True, env_files: bool = True,
) -> dict[str, Any]:
    """One service in canonical long syntax (keys in docker compose's order)."""
    out: dict[str, Any] = dict(svc)
    out.pop("extends", None)
    for key in [k for k in _FIXERS if out.get(k) is not None]:
        try:
            out[key] = _FIXERS[key](out[key], base)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            if strict:
                raise _error(name, key, exc, positions) from None
    try:
        out["environment"] = service_environment(svc, base, env)
    except ConfigError as exc:
        if env_files:
            raise _error(name, "env_file", exc, positions) from None
        # a service the command does not use: its environment without the env files
        out["environment"] = service_environment(
            {k: v for k, v in svc.items() if k != "env_file"}, base, env)
    out.pop("env_file", None)
    if out.get("label_file"):
        try:
            out["labels"] = file_labels(out.pop("label_file"), env, out.get("labels") or {})
        except ConfigError as exc:
            raise _error(name, "label_file", exc, positions) from None
    if not out["environment"]:
        del out["environment"]
    if "network_mode" not in out and "provider" not in out and not out.get("networks"):
        out["networks"] = {"default": None}
    if out.get("pull_policy") == "if_not_present":
        out["pull_policy"] = "missing"
    implicit = _implicit_dependencies(out)
    if implicit:
        out["depends_on"] = {**implicit, **(out.get("depends_on") or {})}
    if isinstance(out.get("build"), dict) and isinstance(out["build"].get("args"), dict):
        out["build"]["args"] = resolve_build_args(out["build"]["args"], env)
    try:
        for key in SIZE_KEYS:
            if out.get(key) is not None:
                out[key] = str(parse_size(out[key]))
        if out.get("stop_grace_period") is not None:
            out["stop_grace_period"] = format_duration(parse_duration(out["stop_grace_period"]))
    except ValueError as exc:
        if strict:
            raise _error(name, key, exc, positions) from None
    for key in LIST_KEYS:
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    for key in _SORTED_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = dict(sorted(out[key].items()))
    return sort_service_keys(out)


def _implicit_dependencies(svc: Mapping[str, Any]) -> dict[str, Any]:
    """depends_on entries docker compose adds for links, ``service:`` namespaces and
    volumes_from (explicit depends_on entries win)."""
    found: dict[str, Any] = {}
    for link in svc.get("links") or ():
        found.setdefault(str(link).split(":", 1)[0],
                         {"condition": "service_started", "restart": True, "required": True})
    for key in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        ref = svc.get(key)
        if isinstance(ref, str) and ref.startswith("service:"):
            found.setdefault(ref[len("service:"):],
                             {"condition": "service_started", "restart": True, "required": True})
    for ref in svc.get("volumes_from") or ():
        if isinstance(ref, str) and not ref.startswith("container:"):
            found.setdefault(ref.split(":", 1)[0],
                             {"condition": "service_started", "required": True})
    return found


def _build(value: Any, base: str) -> dict[str, Any]:
    build = {"context": value} if isinstance(value, str) else dict(value)
    context = str(build.get("context", "."))
    if not context.startswith(_URL_PREFIXES):
        context = resolve_host_path(context, base)
    build["context"] = context
    if "dockerfile_inline" not in build:
        build.setdefault("dockerfile", "Dockerfile")
    for key in ("args", "labels"):
        if key in build:
            values = _string_map(as_mapping(build[key]), keep_none=True)
            build[key] = dict(sorted(values.items())) if isinstance(values, dict) else values
    if "extra_hosts" in build:
        build["extra_hosts"] = _hosts(build["extra_hosts"], base)
    for key in ("shm_size",):
        if key in build:
            build[key] = str(parse_size(build[key]))
    if "additional_contexts" in build:
        build["additional_contexts"] = as_mapping(build["additional_contexts"])
    if isinstance(build.get("secrets"), list):
        build["secrets"] = _file_refs(build["secrets"], base)
    if isinstance(build.get("ulimits"), dict):
        build["ulimits"] = _ulimits(build["ulimits"], base)
    return _sorted_by(build, _BUILD_ORDER)


def _command(value: Any, _base: str) -> list[str]:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split {value!r} into words: {exc}") from None
    return [str(v) for v in value]


def _depends_on(value: Any, _base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dep, spec in as_mapping(value).items():
        spec = spec or {}
        entry: dict[str, Any] = {"condition": spec.get("condition", "service_started")}
        if spec.get("restart"):
            entry["restart"] = True
        entry["required"] = spec.get("required", True)
        out[dep] = entry
    return out


def _healthcheck(value: Any, _base: str) -> dict[str, Any]:
    out = dict(value)
    test = out.get("test")
    if isinstance(test, str):
        out["test"] = ["CMD-SHELL", test]
    for key in DURATION_KEYS:
        if out.get(key) is not None:
            out[key] = format_duration(parse_duration(out[key]))
    return _sorted_by(out, ("test", *DURATION_KEYS[:2], "retries", *DURATION_KEYS[2:],
                            "disable"))


def _ports(value: Any, _base: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in value:
        if isinstance(entry, dict):
            port = dict(entry)
            port.setdefault("mode", "ingress")
            port.setdefault("protocol", "tcp")
            if port.get("published") is not None:
                port["published"] = str(port["published"])
            if isinstance(port.get("target"), str):
                port["target"] = int(port["target"])
            out.append(_sorted_by(port, _PORT_ORDER))
        else:
            out.extend(_sorted_by(p, _PORT_ORDER) for p in parse_port_spec(entry))
    return out


def _volumes(value: Any, base: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in value:
        mount = parse_volume_short(entry) if isinstance(entry, str) else dict(entry)
        if not mount.get("target"):
            raise ValueError(f"volume {entry!r} has no target path")
        mount["target"] = posixpath.normpath(str(mount["target"]))
        if mount.get("type") == "bind" and mount.get("source") is not None:
            mount["source"] = resolve_host_path(str(mount["source"]), base)
        if mount.get("type") == "volume" and mount.get("source") == "":
            mount.pop("source")
        if mount.get("type") == "tmpfs" and isinstance(mount.get("tmpfs"), dict):
            tmpfs = dict(mount["tmpfs"])
            if "size" in tmpfs:
                tmpfs["size"] = parse_size(tmpfs["size"])
            mount["tmpfs"] = tmpfs
        out.append(_sorted_by(mount, _VOLUME_ORDER))
    return out


def _file_refs(value: Any, _base: str) -> list[dict[str, Any]]:
    return [{"source": v} if isinstance(v, str) else dict(v) for v in value]


def _ulimits(value: Any, _base: str) -> dict[str, Any]:
    return {k: v if isinstance(v, int) else _sorted_by(dict(v), ("soft", "hard"))
            for k, v in value.items()}


def _hosts(value: Any, _base: str) -> list[str]:
    """``HOST=IP`` entries, sorted (a host may have several: a list may name it twice)."""
    if isinstance(value, list):
        pairs: list[tuple[str, Any]] = []
        for item in value:
            pairs.extend(as_mapping([item], ("extra_hosts",)).items())
    else:
        pairs = list(as_mapping(value, ("extra_hosts",)).items())
    entries: list[str] = []
    for host, ips in pairs:
        for value in ips if isinstance(ips, list) else [ips]:
            # compose-go: several addresses separated by commas, IPv6 brackets dropped
            for ip in ("" if value is None else str(value)).split(","):
                bare = ip[1:-1] if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]" else ip
                entries.append(f"{host}={bare}")
    return sorted(entries)


def _string_map(value: Any, keep_none: bool = False) -> Any:
    if not isinstance(value, dict):
        return value
    return {k: (None if v is None and keep_none else _scalar_str(v)) for k, v in value.items()}


def _scalar_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _service_networks(value: Any, _base: str) -> dict[str, Any]:
    return {k: v for k, v in as_mapping(value).items()}


def _deploy(value: Any, _base: str) -> dict[str, Any]:
    out = dict(value)
    resources = out.get("resources")
    if isinstance(resources, dict):
        out["resources"] = {
            k: _resource(v) if isinstance(v, dict) else v for k, v in resources.items()
        }
    policy = out.get("restart_policy")
    if isinstance(policy, dict):
        out["restart_policy"] = {
            k: format_duration(parse_duration(v)) if k in ("delay", "window") else v
            for k, v in policy.items()
        }
    if "labels" in out:
        out["labels"] = _string_map(as_mapping(out["labels"]))
    return out


def _resource(spec: dict[str, Any]) -> dict[str, Any]:
    out = dict(spec)
    if out.get("memory") is not None:
        out["memory"] = str(parse_size(out["memory"]))
    if out.get("cpus") is not None:
        out["cpus"] = float(out["cpus"])
    return out


def _on_use(module: str, name: str) -> Callable[[Any, str], Any]:
    """``module.name``, imported when a service first has the key (the newer keys' modules
    serve few files)."""
    def fix(value: Any, base: str) -> Any:
        return getattr(importlib.import_module(module), name)(value, base)
    return fix


_FIXERS: dict[str, Callable[[Any, str], Any]] = {
    "build": _build,
    "command": _command,
    "entrypoint": _command,
    "depends_on": _depends_on,
    "healthcheck": _healthcheck,
    "ports": _ports,
    "volumes": _volumes,
    "secrets": _file_refs,
    "configs": _file_refs,
    "ulimits": _ulimits,
    "extra_hosts": _hosts,
    "labels": lambda v, _b: _string_map(as_mapping(v)),
    "annotations": lambda v, _b: _string_map(as_mapping(v)),
    "sysctls": lambda v, _b: _string_map(as_mapping(v)),
    "networks": _service_networks,
    "deploy": _deploy,
    "devices": lambda v, _b: [parse_device(d) for d in v],
    "provider": _on_use("compose.config.hookforms", "normalize_provider"),
    "post_start": _on_use("compose.config.hookforms", "normalize_hooks"),
    "pre_stop": _on_use("compose.config.hookforms", "normalize_hooks"),
    "pre_start": _on_use("compose.config.hookforms", "normalize_hooks"),
    "expose": lambda v, _b: [str(p) for p in v],
    "cpus": lambda v, _b: float(v),
    "label_file": lambda v, b: [resolve_host_path(p, b)
                                for p in ([v] if isinstance(v, str) else v)],
    "develop": _on_use("compose.config.develop", "normalize_develop"),
}

# Mappings docker compose prints with sorted keys (Go maps).
_SORTED_MAPS = ("environment", "labels", "annotations", "depends_on", "networks", "sysctls",
                "ulimits", "storage_opt")

_NETWORK_ORDER = ("name", "driver", "driver_opts", "ipam", "external", "internal", "attachable",
                  "labels", "enable_ipv4", "enable_ipv6")
_VOLUME_KEYS = ("name", "driver", "driver_opts", "external", "labels")
_FILE_OBJECT_ORDER = ("name", "file", "environment", "content", "external", "labels", "driver",
                      "driver_opts", "template_driver")
_PORT_ORDER = ("name", "mode", "host_ip", "target", "published", "protocol", "app_protocol")
_VOLUME_ORDER = ("type", "source", "target", "read_only", "consistency", "bind", "volume",
                 "tmpfs", "image")
_BUILD_ORDER = ("context", "dockerfile", "dockerfile_inline", "entitlements", "args", "ssh",
                "labels", "cache_from", "cache_to", "no_cache", "additional_contexts",
                "network", "provenance", "sbom", "pull", "target", "shm_size", "extra_hosts",
                "isolation", "privileged", "secrets", "tags", "ulimits", "platforms")
SERVICE_ORDER = tuple((
    "profiles annotations attach build develop blkio_config cap_add cap_drop cgroup_parent cgroup "
    "cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpus cpuset "
    "cpu_shares command configs container_name credential_spec depends_on deploy "
    "device_cgroup_rules devices dns dns_opt dns_search dockerfile domainname entrypoint "
    "provider environment env_file expose extends external_links extra_hosts group_add gpus "
    "hostname healthcheck image init ipc isolation labels label_file links logging log_driver "
    "log_opt mem_limit mem_reservation memswap_limit mem_swappiness mac_address models net "
    "network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports "
    "privileged pull_policy read_only restart runtime scale secrets security_opt shm_size "
    "stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits "
    "use_api_socket user userns_mode uts volume_driver volumes volumes_from working_dir "
    "pre_start post_start pre_stop"
).split())


@functools.cache
def _ranks(order: tuple[str, ...]) -> dict[str, int]:
    return {k: i for i, k in enumerate(order)}


def _sorted_by(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """``mapping`` with its keys in ``order``; unknown keys after them by name, ``x-*`` last."""
    rank = _ranks(order)
    last = len(rank)
    return dict(sorted(mapping.items(),
                       key=lambda kv: (kv[0].startswith("x-"), rank.get(kv[0], last), kv[0])))


def sort_service_keys(svc: dict[str, Any]) -> dict[str, Any]:
    """Service keys in docker compose's output order; extensions (``x-*``) last."""
    return _sorted_by(svc, SERVICE_ORDER)


def _error(service: str, key: str, exc: Exception, positions: PositionMap | None) -> ConfigError:
    """A ConfigError for a value that passed the checks but cannot be understood."""
    detail = exc.message if isinstance(exc, ConfigError) else str(exc)
    return config_error_at(f"service {service!r}: {detail}", "", positions or {},
                           ("services", service, key))
