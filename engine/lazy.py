"""Paying for a module only when it is used: lazy package exports (PEP 562), where a package
names what it exports and where and a name's module is imported on first use; stand-ins
for the modules a standard module imports but uses only on rare paths; and loggers that
import ``logging`` when they first log."""
from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from logging import Logger
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


class OnFirstUse(types.ModuleType):
    """Stands in for module ``name`` in the namespace of ``importer``, which imports it but
    uses it only on rare paths. The first attribute asked of it imports the real module, which
    then replaces it there; nothing else ever sees it."""

    def __init__(self, name: str, importer: str) -> None:
        super().__init__(name)
        self._importer = importer

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:  # (asked while the importer still loads)
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        setattr(sys.modules[self._importer], self.__name__, real)
        return getattr(real, attr)


def import_sparing(importer: str, rare: tuple[str, ...]) -> types.ModuleType:
    """Import ``importer`` (unless it is loaded) with stand-ins (:class:`OnFirstUse`) for
    the top-level modules ``rare`` that are not loaded yet; other importers still get the
    real modules."""
    loaded = sys.modules.get(importer)
    if loaded is not None:
        return loaded
    stand_ins = {name: OnFirstUse(name, importer) for name in rare if name not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        return importlib.import_module(importer)
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


class LazyLogger:
    """Stands in for ``logging.getLogger(name)`` in a module that logs only on rare paths (a
    warning about the compose file): ``logging``, with the ``threading``, ``weakref`` and
    ``string`` it loads (~2.8 ms), is imported when something is first logged."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        import logging

        return getattr(logging.getLogger(self.name), attr)


def logger(name: str) -> Logger:
    """A :class:`LazyLogger` for ``name`` (typed as the logger it stands in for)."""
    return LazyLogger(name)  # type: ignore[return-value]
