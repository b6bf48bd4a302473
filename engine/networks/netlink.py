"""pyroute2's ``IPRoute`` and ``NetlinkError`` without the rest of pyroute2.

``import pyroute2`` runs a package ``__init__`` that imports every protocol pyroute2 speaks
(IPDB, NDB, conntrack, wireguard, nl80211, ...), about half of its import time, paid by every
process that touches a link. Only ``pyroute2.iproute.linux`` is needed here, so the package is
registered as a bare namespace first and its submodules imported directly. Anything that later
asks the bare package for a public name (``pyroute2.NDB``) gets the real ``__init__`` run then.
"""
from __future__ import annotations

import importlib.util
import sys
import types
from typing import TYPE_CHECKING, Any


def _bare_package() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # let the plain import below report what is missing
    package = types.ModuleType("pyroute2")
    package.__spec__ = spec
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    loader = spec.loader

    def attribute(name: str) -> Any:
        """A submodule (``from pyroute2 import config``) is imported alone; the first other
        public name asked of the bare package runs the real ``__init__``."""
        try:
            return importlib.import_module(f"pyroute2.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pyroute2.{name}":
                raise
        delattr(package, "__getattr__")
        loader.exec_module(package)
        return getattr(package, name)

    setattr(package, "__getattr__", attribute)  # noqa: B010 - a module-level __getattr__
    sys.modules["pyroute2"] = package


if TYPE_CHECKING:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
else:
    _bare_package()
    from pyroute2.iproute.linux import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

__all__ = ["IPRoute", "NetlinkError"]
