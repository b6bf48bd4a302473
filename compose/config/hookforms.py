"""Canonical forms of the newer service keys: lifecycle hooks and providers (compose-go's
ServiceHook and ServiceProviderConfig)."""
from __future__ import annotations

import shlex

from compose.config.merge import as_mapping

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

HOOK_ORDER = ("command", "image", "user", "privileged", "working_dir", "environment",
              "per_replica")


def normalize_hooks(value: Any, _base: str) -> list[dict[str, Any]]:
    """``post_start``/``pre_stop``/``pre_start`` entries: command as words (ShellCommand),
    environment as a sorted mapping (MappingWithEquals), keys in compose-go's order."""
    out = []
    for hook in value:
        entry = dict(hook)
        command = entry.get("command")
        if isinstance(command, str):
            try:
                entry["command"] = shlex.split(command)
            except ValueError as exc:
                raise ValueError(f"cannot split {command!r} into words: {exc}") from None
        elif command is not None:
            entry["command"] = [str(c) for c in command]
        env = entry.get("environment")
        if env is not None:
            entry["environment"] = {k: None if v is None else _text(v)
                                    for k, v in sorted(as_mapping(env).items())}
        rank = {k: i for i, k in enumerate(HOOK_ORDER)}
        out.append(dict(sorted(entry.items(), key=lambda kv: (kv[0].startswith("x-"),
                                                               rank.get(kv[0], 99), kv[0]))))
    return out


def normalize_provider(value: Any, _base: str) -> dict[str, Any]:
    """``provider.options``: every value a list of strings, keys sorted (MultiOptions)."""
    out = dict(value)
    options = out.get("options")
    if isinstance(options, dict):
        out["options"] = {k: [_text(x) for x in (v if isinstance(v, list) else [v])]
                          for k, v in sorted(options.items())}
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
