"""Registry settings: mirrors and insecure registries, and docker-style credentials.

Settings file (first found): ``$PYCOMPOSE_REGISTRIES``, ``<state root>/registries.json``,
``/etc/pycompose/registries.json``::

    {
      "mirrors": {"docker.io": ["http://127.0.0.1:5000"]},
      "insecure": ["registry.local:5000"]
    }

Mirrors are tried in order before the registry itself (pulls only). Insecure registries are
spoken to over https without certificate checks, falling back to plain http when https fails,
like docker's ``insecure-registries``. Loopback registries (localhost, 127.0.0.0/8, ::1) are
insecure by default and spoken to over plain http directly.

Credentials come from a docker ``config.json`` (``$DOCKER_CONFIG/config.json`` or
``~/.docker/config.json``): ``{"auths": {"host:port": {"auth": base64("user:password")}}}``.
"""
from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError
from engine.images.reference import DEFAULT_DOMAIN, is_loopback
from engine.paths import state_root

DOCKER_HUB_API = "registry-1.docker.io"
_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
             "registry-1.docker.io")


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    """Registry mirrors and the registries reached without TLS checks."""
    mirrors: dict[str, tuple[str, ...]]
    insecure: frozenset[str]


def settings_paths() -> list[Path]:
    env = os.environ.get("PYCOMPOSE_REGISTRIES")
    paths = [Path(env)] if env else []
    return paths + [state_root() / "registries.json", Path("/etc/pycompose/registries.json")]


def load_settings() -> RegistrySettings:
    """Read the first registries.json found; defaults when none exists."""
    for path in settings_paths():
        if path.is_file():
            try:
                doc = json.loads(path.read_text())
                mirrors = {k: tuple(v) for k, v in (doc.get("mirrors") or {}).items()}
                return RegistrySettings(mirrors, frozenset(doc.get("insecure") or ()))
            except (ValueError, AttributeError, TypeError) as exc:
                raise EngineError(f"invalid registries file: {exc}", step="read settings",
                                  obj=str(path)) from exc
    return RegistrySettings({}, frozenset())


def is_insecure(domain: str, settings: RegistrySettings) -> bool:
    return is_loopback(domain) or domain in settings.insecure


def api_host(domain: str) -> str:
    """The host to talk to for a reference domain (Docker Hub's API lives elsewhere)."""
    return DOCKER_HUB_API if domain == DEFAULT_DOMAIN else domain


def _docker_config_path() -> Path:
    base = os.environ.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _strip_key(key: str) -> str:
    key = key.removeprefix("https://").removeprefix("http://")
    return key.split("/", 1)[0]


def credentials_for(domain: str) -> tuple[str, str] | None:
    """(user, password) for a registry from the docker config.json, if any."""
    path = _docker_config_path()
    if not path.is_file():
        return None
    try:
        auths = json.loads(path.read_text()).get("auths") or {}
    except ValueError as exc:
        raise EngineError(f"invalid docker config: {exc}", step="read credentials",
                          obj=str(path)) from exc
    wanted = {domain} | (set(_HUB_KEYS) if domain == DEFAULT_DOMAIN else set())
    for key, entry in auths.items():
        if key in wanted or _strip_key(key) in wanted:
            return _decode_entry(entry, path)
    return None


def _decode_entry(entry: dict[str, str], path: Path) -> tuple[str, str] | None:
    if entry.get("username") and entry.get("password"):
        return entry["username"], entry["password"]
    auth = entry.get("auth")
    if not auth:
        return None
    try:
        user, _, password = base64.b64decode(auth).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise EngineError("invalid base64 in auths entry", step="read credentials",
                          obj=str(path)) from exc
    return user, password
