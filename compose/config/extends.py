"""``extends``: a service starts from another service (same file or another file) and
overrides it with the spec's merge rules. Chains are followed; a cycle is an error naming it."""
from __future__ import annotations

import os
from collections.abc import Callable

from compose.config.interpolation import config_error_at
from compose.config.merge import merge_value
from compose.config.paths import absolute, rebase_document
from compose.config.positions import PositionMap
from compose.errors import ConfigError

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    # path of a compose file -> (interpolated, validated document, positions)
    DocumentReader = Callable[[str], tuple[dict[str, Any], PositionMap]]

_Key = tuple[str, str]  # (file, service)


def resolve_extends(
    doc: dict[str, Any], positions: PositionMap, filename: str, read: DocumentReader
) -> dict[str, Any]:
    """Return ``doc`` with every service's ``extends`` resolved (and removed); the loader
    calls it for a file whose services use ``extends``."""
    services = doc["services"]
    resolver = _Resolver(read)
    resolver.documents[filename] = (doc, positions)
    resolved = {name: resolver.service(filename, name, ()) for name in services}
    return {**doc, "services": resolved}


class _Resolver:
    def __init__(self, read: DocumentReader) -> None:
        self.read = read
        self.documents: dict[str, tuple[dict[str, Any], PositionMap]] = {}
        self.done: dict[_Key, dict[str, Any]] = {}

    def document(self, filename: str) -> tuple[dict[str, Any], PositionMap]:
        if filename not in self.documents:
            doc, positions = self.read(filename)
            self.documents[filename] = (rebase_document(doc, os.path.dirname(filename)),
                                        positions)
        return self.documents[filename]

    def service(self, filename: str, name: str, chain: tuple[_Key, ...]) -> dict[str, Any]:
        key = (filename, name)
        if key in self.done:
            return self.done[key]
        doc, positions = self.document(filename)
        if key in chain:
            cycle = " -> ".join(n for _f, n in (*chain[chain.index(key):], key))
            raise config_error_at(f"extends cycle: {cycle}", filename, positions,
                                  ("services", name, "extends"))
        svc = (doc.get("services") or {}).get(name)
        if svc is None:
            where = chain[-1] if chain else key
            raise config_error_at(
                f"cannot extend service {name!r}: it is not defined in {filename}", where[0],
                self.documents[where[0]][1], ("services", where[1], "extends"))
        if not isinstance(svc, dict) or "extends" not in svc:
            self.done[key] = svc
            return svc
        base_file, base_name = _target(svc["extends"], filename, positions, name)
        try:
            base = self.service(base_file, base_name, (*chain, key))
        except ConfigError as exc:
            if exc.line is not None:
                raise
            # the extended file cannot be read: point at the extends that names it
            raise config_error_at(exc.message, filename, positions,
                                  ("services", name, "extends", "file")) from None
        local = {k: v for k, v in svc.items() if k != "extends"}
        merged = merge_value(dict(base), local, ("services", name))
        _inherit_positions(positions, name, self.documents[base_file][1], base_name)
        self.done[key] = merged
        return merged


def _inherit_positions(positions: PositionMap, name: str, base: PositionMap,
                       base_name: str) -> None:
    """Keys a service takes from the one it extends keep the base's file and line, so that a
    mistake in them is reported where it was written."""
    prefix = ("services", base_name)
    for path, pos in list(base.items()):
        if path[:2] == prefix and len(path) > 2:
            positions.setdefault(("services", name, *path[2:]), pos)


def _target(spec: Any, filename: str, positions: PositionMap, name: str) -> tuple[str, str]:
    if isinstance(spec, str):
        return filename, spec
    if isinstance(spec, dict) and isinstance(spec.get("service"), str):
        other = spec.get("file")
        path = absolute(str(other), os.path.dirname(filename)) if other else filename
        return path, spec["service"]
    raise config_error_at("extends must be a service name or a mapping with 'service' "
                          "(and optionally 'file')", filename, positions,
                          ("services", name, "extends"))
