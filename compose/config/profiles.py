"""Profiles: which services are enabled.

A service without ``profiles`` is always enabled; one with profiles is enabled when one of them
is active (``--profile``/``COMPOSE_PROFILES``; ``*`` activates all) or when it is targeted by
name on the command line. A required dependency on a disabled service is an error.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from compose.config.interpolation import config_error_at
from compose.config.merge import as_mapping
from compose.config.positions import PositionMap

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True, slots=True)
class ProfileSelection:
    """The outcome: the document restricted to enabled services, and what was left out."""

    data: dict[str, Any]
    active: tuple[str, ...]
    all_profiles: tuple[str, ...]
    disabled: tuple[str, ...]


def active_profiles(cli_profiles: Iterable[str], env: Mapping[str, str]) -> list[str]:
    """``--profile`` values, else ``COMPOSE_PROFILES`` (comma separated)."""
    profiles = [p for p in cli_profiles if p]
    if not profiles:
        profiles = [p.strip() for p in env.get("COMPOSE_PROFILES", "").split(",") if p.strip()]
    return list(dict.fromkeys(profiles))


def select_services(
    data: dict[str, Any], active: Iterable[str], targets: Iterable[str] = (),
    positions: PositionMap | None = None,
) -> ProfileSelection:
    """Keep the enabled services and drop optional dependencies on disabled ones."""
    active_set, target_set = set(active), set(targets)
    services: dict[str, Any] = data.get("services") or {}
    everything = sorted({p for s in services.values() if isinstance(s, dict)
                         for p in (s.get("profiles") or [])})
    enabled, disabled = {}, []
    for name, svc in services.items():
        wanted = (svc or {}).get("profiles") or []
        if not wanted or "*" in active_set or active_set & set(wanted) or name in target_set:
            enabled[name] = svc
        else:
            disabled.append(name)
    try:
        for name, svc in enabled.items():
            enabled[name] = _prune_dependencies(name, svc or {}, enabled, services)
            _check_references(name, svc or {}, enabled, services)
    except _Disabled as exc:
        raise config_error_at(str(exc), "", positions or {}, exc.path) from None
    return ProfileSelection({**data, "services": enabled}, tuple(sorted(active_set)),
                            tuple(everything), tuple(disabled))


def _check_references(name: str, svc: Mapping[str, Any], enabled: Mapping[str, Any],
                      defined: Mapping[str, Any]) -> None:
    """links, ``service:`` namespaces and volumes_from may not point at a disabled service."""
    refs: list[tuple[str, str]] = []
    refs += [("links", str(link).split(":", 1)[0]) for link in svc.get("links") or ()]
    for key in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        value = svc.get(key)
        if isinstance(value, str) and value.startswith("service:"):
            refs.append((key, value[len("service:"):]))
    refs += [("volumes_from", str(ref).split(":", 1)[0]) for ref in svc.get("volumes_from") or ()
             if not str(ref).startswith("container:")]
    for key, ref in refs:
        if ref in defined and ref not in enabled:
            raise _disabled_error(name, ref, defined, key)


class _Disabled(Exception):
    def __init__(self, message: str, path: tuple[str, ...]) -> None:
        super().__init__(message)
        self.path = path


def _disabled_error(name: str, dep: str, defined: Mapping[str, Any], key: str) -> _Disabled:
    profiles = ", ".join((defined[dep] or {}).get("profiles") or [])
    return _Disabled(
        f"service {name!r} needs service {dep!r} ({key}), which is disabled: enable one of "
        f"its profiles ({profiles}) with --profile or COMPOSE_PROFILES",
        ("services", name, key))


def _prune_dependencies(name: str, svc: dict[str, Any], enabled: Mapping[str, Any],
                        defined: Mapping[str, Any]) -> dict[str, Any]:
    deps = svc.get("depends_on")
    if not deps:
        return svc
    kept: dict[str, Any] = {}
    for dep, spec in as_mapping(deps).items():
        if dep in enabled or dep not in defined:  # unknown ones are reported by the checks
            kept[dep] = spec
            continue
        required = not isinstance(spec, dict) or spec.get("required", True) is not False
        if required:
            raise _disabled_error(name, dep, defined, "depends_on")
    return {**svc, "depends_on": kept}
