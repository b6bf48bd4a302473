"""Semantic checks on the merged project dict: what a JSON Schema cannot say.

This module checks references (services to services, networks, volumes, secrets, configs and
models; self dependencies; ``network_mode``/``ipc``/``pid`` ``service:NAME``);
:mod:`compose.config.semantic_values` checks one service's values (ports, mounts, durations,
sizes, restart and pull policies, ulimits, container_name with replicas) and
:mod:`compose.config.semantic_resources` the top-level resources and static addresses.
The first problem (services in file order, then resources) is raised as one ConfigError
sentence located through the position map. Values still holding ``$`` (files read with
interpolation off) are not parsed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from compose.config.positions import KeyPath, PositionMap, error_at
from compose.config.semantic_resources import check_resources, check_static_addresses
from compose.config.semantic_values import check_service_values
from compose.config.walk import entries, has_interpolation

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

Problem = tuple[KeyPath, str]


@dataclass(frozen=True, slots=True)
class _Project:
    """The names a service may refer to."""

    services: frozenset[str]
    networks: frozenset[str]
    volumes: frozenset[str]
    secrets: frozenset[str]
    configs: frozenset[str]
    models: frozenset[str]
    buildable: frozenset[str]  # services with a build section


def check_semantics(project: dict, positions: PositionMap) -> None:
    """Raise ConfigError for the first semantic mistake in the merged project dict."""
    services = project.get("services") or {}
    buildable = frozenset(k for k, v in services.items()
                          if isinstance(v, dict) and v.get("build") is not None)
    def keys(kind: str) -> frozenset[str]:
        return frozenset(project.get(kind) or {})

    names = _Project(keys("services"), keys("networks"), keys("volumes"), keys("secrets"),
                     keys("configs"), keys("models"), buildable)
    for path, problem in _problems(project, names):
        raise error_at(problem, path, positions)


def _problems(project: dict, names: _Project) -> Iterator[Problem]:
    """Every problem as (absolute key path, sentence): services in order, then resources."""
    for name, service in (project.get("services") or {}).items():
        if not isinstance(service, dict):
            continue
        base: KeyPath = ("services", name)
        for check in _SERVICE_CHECKS:
            for path, problem in check(names, name, service):
                yield base + path, problem
        for path, problem in check_service_values(service, names.volumes):
            yield base + path, problem
        for path, problem in check_static_addresses(project, name, service):
            yield base + path, problem
    yield from check_resources(project)


def _ref_names(value: Any) -> Iterator[tuple[str | int, str]]:
    """Names referred to by a list/map of names or of long-syntax ``{source: ...}`` items."""
    for key, entry in entries(value):
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
        elif target not in names.services and not has_interpolation(target):
            yield ("network_mode",), (
                f"network_mode refers to service {target!r}, which is not defined")


def _check_references(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
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
        yield from _check_build_contexts(names, build)
    for index, ref in _ref_names(svc.get("models")):
        if ref not in names.models:
            yield ("models", index), (
                f"service {name!r} uses model {ref!r}, which is not defined under the "
                "top-level models key")


def _check_build_contexts(names: _Project, build: dict) -> Iterator[Problem]:
    """``additional_contexts`` values ``service:NAME`` need a service that is built."""
    contexts = build.get("additional_contexts")
    pairs = (entries(contexts) if isinstance(contexts, dict) else
             ((i, str(v).partition("=")[2]) for i, v in entries(contexts)))
    for key, value in pairs:
        if not isinstance(value, str) or not value.startswith("service:"):
            continue
        target = value.removeprefix("service:")
        if target not in names.services:
            yield ("build", "additional_contexts", key), (
                f"additional context {key!r} refers to undefined service {target!r}")
        elif target not in names.buildable:
            yield ("build", "additional_contexts", key), (
                f"additional context {key!r} refers to service {target!r}, which has no build")


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
    for index, link in entries(svc.get("links")):
        target = str(link).split(":", 1)[0]
        if target not in names.services:
            yield ("links", index), f"service {name!r} links to undefined service {target!r}"
    yield from _check_volumes_from(names, name, svc)
    extends = svc.get("extends")
    if isinstance(extends, str) or (isinstance(extends, dict) and not extends.get("file")):
        base = extends if isinstance(extends, str) else extends.get("service")
        if base not in names.services:
            yield ("extends",), f"service {name!r} extends undefined service {base!r}"


def _check_namespaces(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    """``ipc``/``pid`` may share another service's namespace with ``service:NAME``."""
    for key in ("ipc", "pid"):
        mode = svc.get(key)
        if isinstance(mode, str) and mode.startswith("service:"):
            target = mode.split(":", 1)[1]
            if target == name:
                yield (key,), f"service {name!r} cannot share its own {key} namespace"
            elif target not in names.services and not has_interpolation(target):
                yield (key,), f"{key} refers to service {target!r}, which is not defined"


def _check_volumes_from(names: _Project, name: str, svc: dict) -> Iterator[Problem]:
    for index, entry in entries(svc.get("volumes_from")):
        parts = str(entry).split(":")
        if parts[0] == "container":
            continue
        if parts[0] not in names.services:
            yield ("volumes_from", index), (
                f"service {name!r} takes volumes from undefined service {parts[0]!r}")
        elif len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("ro", "rw")):
            yield ("volumes_from", index), (
                f"{entry!r} is not a valid volumes_from entry; write SERVICE[:ro|rw]")


_SERVICE_CHECKS: tuple[Callable[[_Project, str, dict], Iterator[Problem]], ...] = (
    _check_networks, _check_references, _check_dependencies, _check_namespaces,
)
