"""What the warm engine loads before it forks anything (see :mod:`compose.cli.warmserver`):
every module of the tree, the heavy modules the engine imports on first use, the compiled
schema and click commands, the default seccomp program, the xtables extensions; and what the
commands it forked report they had to import anyway.
"""
from __future__ import annotations

import sys

from engine import warm

_SKIP = ("compose.k8s", "compose.pytest_plugin")  # optional dependencies, never on a hot path


def preload() -> None:
    """Import every module of the tree a command may use (the dataclass cache first)."""
    import importlib
    import pkgutil

    from engine import dataclass_cache

    dataclass_cache.install()
    for top in ("engine", "compose"):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if info.name.endswith("__main__") or info.name.startswith(_SKIP):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 - an optional dependency is missing
                sys.stderr.write(f"warm engine: not preloaded: {info.name}: {exc!r}\n")
    import typer  # noqa: F401 - the lean parser's stand-in is replaced by the real module

    learn(_HEAVY)
    from engine.containers import shimd

    shimd.prepare()  # the shim fork server forked from here inherits it all
    from compose.cli import app, lean, main
    from compose.config import validation

    app.prebuild()
    lean.prepare({name: main.COMMANDS[name] for name in main.LEAN_COMMANDS})
    validation._quick_check()  # the compose schema, compiled (~10 ms per command otherwise)
    validation._validator()
    dataclass_cache.flush()  # now, not at the exit of every command forked from here
    try:
        from engine.networks.firewall import iptables

        iptables.warm_up()
    except Exception as exc:  # noqa: BLE001 - no legacy iptables here: nothing to warm
        sys.stderr.write(f"warm engine: iptables extensions not loaded: {exc!r}\n")


# Third-party and standard modules the engine imports inside functions (on first use): loaded
# up front so that no command pays for them. Anything else a command imports is reported by it
# when it ends (:func:`_report_new_modules`) and loaded between commands.
_HEAVY = ["iptc", "pyroute2.iproute.linux", "pyroute2.netlink.exceptions", "networkx",
          "jsonschema", "jsonschema.exceptions", "dns.message", "dns.rdatatype", "pyseccomp",
          "watchfiles", "yaml._yaml", "typer._click.exceptions", "typer._coercion", "tarfile",
          "sqlite3", "subprocess", "difflib", "secrets", "urllib.request", "http.client",
          "zstandard", "ctypes.util"]
_NEVER = ("__main__", "kubernetes", "compose.k8s", "compose.pytest_plugin", "pytest", "_pytest")
_known: set[str] = set()


def learn(names: object) -> None:
    """Import ``names`` (module names a command used) into the engine for later commands."""
    import importlib

    if not isinstance(names, list):
        return
    before = len(sys.modules)
    for name in names:
        if not isinstance(name, str) or name in sys.modules or name.startswith(_NEVER):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a module that only loads in its context
            sys.stderr.write(f"warm engine: not preloaded: {name}: {exc!r}\n")
    _known.update(sys.modules)
    if len(sys.modules) != before:
        import gc

        gc.freeze()  # as after the preload: children's collections skip these objects


def report_new_modules() -> None:
    """In a command child: tell the engine which modules this command had to import."""
    new = sorted(set(sys.modules) - _known)
    if new:
        warm.ask({"op": "learn", "modules": new}, timeout=1.0)
