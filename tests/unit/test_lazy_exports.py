"""The engine packages export lazily (PEP 562). An exported name that is also a submodule's name
breaks as soon as that submodule is imported (the import sets the package attribute to the
module): ``containers.attach(...)`` once raised "'module' object is not callable"."""
from __future__ import annotations

import importlib
import pkgutil

import pytest


@pytest.mark.parametrize("package", ["engine.containers", "engine.images", "engine.networks"])
def test_no_export_shares_a_submodule_name(package: str) -> None:
    pkg = importlib.import_module(package)
    submodules = {m.name for m in pkgutil.iter_modules(pkg.__path__)}
    exported = set(getattr(pkg, "__all__", ())) | {n for names in pkg._EXPORTS.values()
                                                   for n in names}
    assert exported and not exported & submodules


def test_exports_resolve_after_their_modules_were_imported() -> None:
    import engine.containers as containers

    importlib.import_module("engine.containers.attachment")
    importlib.import_module("engine.containers.sweeping")
    assert callable(containers.attach) and callable(containers.sweep)
