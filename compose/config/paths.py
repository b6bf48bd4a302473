"""Rebase the relative paths of one compose document onto the directory it belongs to.

Documents reached through ``extends: {file: ...}`` or ``include`` resolve their relative paths
against their own directory; rebasing them to absolute paths before merging keeps that meaning.
"""
from __future__ import annotations

import os

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any


_URL_PREFIXES = ("http://", "https://", "git://", "git@", "github.com/", "ssh://")


def absolute(path: str, base: str) -> str:
    """``path`` made absolute against ``base`` (``~`` expands); absolute paths pass through."""
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def rebase_document(doc: dict[str, Any], base: str) -> dict[str, Any]:
    """A copy of ``doc`` whose relative host paths are absolute against ``base``."""
    out = dict(doc)
    services = out.get("services")
    if isinstance(services, dict):
        out["services"] = {k: rebase_service(v, base) if isinstance(v, dict) else v
                           for k, v in services.items()}
    for section in ("secrets", "configs"):
        entries = out.get(section)
        if isinstance(entries, dict):
            out[section] = {k: _rebase_key(v, "file", base) for k, v in entries.items()}
    return out


def rebase_service(svc: dict[str, Any], base: str) -> dict[str, Any]:
    """A copy of one service with build context, env_file, bind sources and extends.file
    made absolute."""
    out = dict(svc)
    build = out.get("build")
    if isinstance(build, str) and not build.startswith(_URL_PREFIXES):
        out["build"] = absolute(build, base)
    elif isinstance(build, dict) and isinstance(build.get("context", "."), str):
        context = build.get("context", ".")
        if not context.startswith(_URL_PREFIXES):
            out["build"] = {**build, "context": absolute(context, base)}
    if "env_file" in out:
        out["env_file"] = _rebase_env_files(out["env_file"], base)
    if isinstance(out.get("volumes"), list):
        out["volumes"] = [_rebase_volume(v, base) for v in out["volumes"]]
    if isinstance(out.get("extends"), dict):
        out["extends"] = _rebase_key(out["extends"], "file", base)
    if isinstance(out.get("label_file"), (str, list)):
        files = out["label_file"]
        out["label_file"] = [absolute(f, base) for f in ([files] if isinstance(files, str)
                                                        else files) if isinstance(f, str)]
    return out


def _rebase_key(entry: Any, key: str, base: str) -> Any:
    if isinstance(entry, dict) and isinstance(entry.get(key), str):
        return {**entry, key: absolute(entry[key], base)}
    return entry


def _rebase_env_files(value: Any, base: str) -> Any:
    items = [value] if isinstance(value, (str, dict)) else value
    if not isinstance(items, list):
        return value
    return [absolute(v, base) if isinstance(v, str) else _rebase_key(v, "path", base)
            for v in items]


def _rebase_volume(entry: Any, base: str) -> Any:
    if isinstance(entry, str):
        source, sep, rest = entry.partition(":")
        if sep and source.startswith((".", "~")):
            return f"{absolute(source, base)}:{rest}"
        return entry
    if isinstance(entry, dict) and entry.get("type") == "bind":
        return _rebase_key(entry, "source", base)
    return entry
