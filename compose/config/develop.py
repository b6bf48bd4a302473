"""``develop.watch``: normalization of the raw rules and their frozen model.

Each rule watches a host ``path`` (resolved against the project directory) and, on a change,
runs ``action``: ``sync`` (copy into ``target``), ``sync+restart``, ``sync+exec``, ``restart``
or ``rebuild``. ``ignore``/``include`` are .dockerignore-style patterns relative to ``path``.
"""
from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from compose.config.syntax import resolve_host_path

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

ACTIONS = ("sync", "sync+restart", "sync+exec", "restart", "rebuild")


@dataclass(frozen=True, slots=True)
class WatchExec:
    """``sync+exec``'s command (a service hook)."""

    command: tuple[str, ...]
    user: str | None = None
    privileged: bool = False
    working_dir: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WatchRule:
    """One ``develop.watch`` entry."""

    path: str
    action: str
    target: str | None = None
    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    initial_sync: bool = False
    exec: WatchExec | None = None


@dataclass(frozen=True, slots=True)
class Develop:
    """A service's ``develop`` section."""

    watch: tuple[WatchRule, ...] = ()


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def normalize_develop(value: Any, base: str) -> dict[str, Any]:
    """Canonical ``develop``: watch paths absolute, ``ignore``/``include`` as lists."""
    out = dict(value or {})
    rules = []
    for raw in out.get("watch") or ():
        rule = dict(raw)
        rule["path"] = resolve_host_path(str(rule["path"]), base)
        for key in ("ignore", "include"):
            if key in rule:
                rule[key] = _strings(rule[key])
        if isinstance(rule.get("exec"), Mapping) and isinstance(rule["exec"].get("command"),
                                                                str):
            hook = dict(rule["exec"])
            hook["command"] = shlex.split(hook["command"])  # like a service's command
            rule["exec"] = hook
        rules.append(rule)
    if "watch" in out:
        out["watch"] = rules
    return out


def develop_config(value: Mapping[str, Any] | None) -> Develop | None:
    """The frozen model of a normalized ``develop`` section."""
    if not value:
        return None
    return Develop(tuple(_rule(r) for r in value.get("watch") or ()))


def _rule(r: Mapping[str, Any]) -> WatchRule:
    hook = r.get("exec")
    return WatchRule(
        path=str(r["path"]), action=str(r["action"]), target=r.get("target"),
        ignore=tuple(_strings(r.get("ignore"))), include=tuple(_strings(r.get("include"))),
        initial_sync=bool(r.get("initial_sync")),
        exec=None if not hook else WatchExec(
            command=tuple(hook.get("command") or ()), user=hook.get("user"),
            privileged=bool(hook.get("privileged")), working_dir=hook.get("working_dir"),
            environment=_env(hook.get("environment"))))


def _env(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out = {}
    for item in value or ():
        key, _, val = str(item).partition("=")
        out[key] = val
    return out
