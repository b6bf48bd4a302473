"""Lazy package exports (PEP 562): a package names what it exports and where, and a name's
module is imported on first use, so a command pays only for the parts it touches."""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, tuple[str, ...]],
                 aliases: Mapping[str, str] | None = None) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``exports`` (module → names). ``aliases`` maps a public
    name to an exported one. A resolved name is cached in ``namespace`` (the package's
    globals). No exported name may also be a submodule's name: importing that submodule would
    set the package attribute to the module and shadow the export."""
    where = {name: module for module, names in exports.items() for name in names}
    alias = dict(aliases or {})

    def resolve(name: str) -> Any:
        target = alias.get(name, name)
        module = where.get(target)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), target)
        namespace[name] = value
        return value

    return resolve
