"""The labels every engine object created for a project carries (docker compose's names).

``ps``, ``down`` and convergence find containers, networks and volumes by these labels alone.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

PROJECT = "com.docker.compose.project"
SERVICE = "com.docker.compose.service"
NUMBER = "com.docker.compose.container-number"
ONEOFF = "com.docker.compose.oneoff"
CONFIG_HASH = "com.docker.compose.config-hash"
WORKING_DIR = "com.docker.compose.project.working_dir"
CONFIG_FILES = "com.docker.compose.project.config_files"
VERSION = "com.docker.compose.version"
DEPENDS_ON = "com.docker.compose.depends_on"
IMAGE = "com.docker.compose.image"
NETWORK = "com.docker.compose.network"
VOLUME = "com.docker.compose.volume"
REPLACE = "com.docker.compose.replace"

COMPOSE_VERSION = "2.29.0-pycompose"

# Keys that do not change what a running container is (compose leaves them out of the hash too).
_HASH_EXCLUDED = ("build", "pull_policy", "scale", "depends_on", "profiles")


def config_hash(raw: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a service's normalized config, minus scale/replicas."""
    from engine.digest import sha256_hex  # (the CLI imports this module for the label names)

    data = {k: v for k, v in raw.items() if k not in _HASH_EXCLUDED}
    deploy = data.get("deploy")
    if isinstance(deploy, Mapping) and "replicas" in deploy:
        data["deploy"] = {k: v for k, v in deploy.items() if k != "replicas"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return sha256_hex(text)


def service_hash(project: Any, svc: Any) -> str:
    """The service's config hash (the label, ``config --hash``), covering also the names of
    the named volumes it mounts where they are not the default ``<project>_<key>``: a
    container whose volume is now another one (``external: true, name: ${VOL}``) is
    recreated, as docker compose recreates it."""
    names = {m.source: project.volumes[m.source].name for m in svc.volumes
             if m.type == "volume" and m.source in project.volumes
             and project.volumes[m.source].name != f"{project.name}_{m.source}"}
    return config_hash({**svc.raw, "x-volume-names": names} if names else svc.raw)


def volume_hash(volume: Any) -> str:
    """sha256 of what defines a named volume (name, driver, options, labels): a volume whose
    recorded hash differs no longer matches the compose file (docker compose's check)."""
    from engine.digest import sha256_hex

    data = {"name": volume.name, "driver": volume.driver or "local",
            "driver_opts": dict(volume.driver_opts), "labels": dict(volume.labels)}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return sha256_hex(text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def depends_on_label(depends_on: Mapping[str, Any]) -> str:
    """``svc:condition:restart`` entries joined by commas, like docker compose writes."""
    parts = []
    for name, dep in depends_on.items():
        parts.append(f"{name}:{dep.condition}:{str(bool(dep.restart)).lower()}")
    return ",".join(parts)


def project_filter(project: str) -> dict[str, str]:
    """Label filter selecting every object of ``project``."""
    return {PROJECT: project}
