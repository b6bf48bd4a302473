"""What the warm engine loads before it forks anything (see :mod:`compose.cli.warmserver`):
every module of the tree, the heavy modules the engine imports on first use, the compiled
schema and click commands, the default seccomp program, the xtables extensions; and what the
commands it forked report they had to import anyway.

The preload runs in small steps (:func:`steps`: one module or one preparation each), so that
the server can fork a command that arrived meanwhile between two steps instead of making it
wait for the whole preload (about a second of CPU).
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

from engine import warm

_SKIP = ("compose.k8s", "compose.pytest_plugin")  # optional dependencies, never on a hot path


def steps() -> Iterator[str]:
    """Import every module of the tree a command may use (the dataclass cache first), then
    prepare what commands would otherwise build each time; yields after each step (the name
    of what it loaded)."""
    import importlib
    import pkgutil

    from engine import dataclass_cache

    dataclass_cache.install()
    for top in ("engine", "compose"):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if info.name.endswith("__main__") or info.name.startswith(_SKIP):
                continue
            if info.name not in sys.modules:
                _load(info.name)
                yield info.name
    import typer  # noqa: F401 - the lean parser's stand-in is replaced by the real module

    for name in _HEAVY:
        if name not in sys.modules:
            _load(name)
            yield name
    _known.update(sys.modules)
    from engine.containers import shimd

    shimd.prepare()  # the shim fork server forked from here inherits it all
    yield "shimd"
    from compose.cli import app, lean, main
    from compose.config import validation

    # what the frequent commands use first; the click commands (for the others) last
    for name in sorted(main.LEAN_COMMANDS):
        lean.prepare({name: main.COMMANDS[name]})
        yield f"lean command {name}"
    validation._quick_check()  # the compose schema, compiled (~10 ms per command otherwise)
    yield "schema check"
    validation._validator()
    yield "schema validator"
    try:
        from engine.networks.firewall import iptables

        iptables.warm_up()
    except Exception as exc:  # noqa: BLE001 - no legacy iptables here: nothing to warm
        sys.stderr.write(f"warm engine: iptables extensions not loaded: {exc!r}\n")
    yield "xtables"
    for name in main.COMMANDS:
        app.prebuild(name)
        yield f"click command {name}"
    dataclass_cache.flush()  # now, not at the exit of every command forked from here
    from engine import regex_cache

    regex_cache.flush()  # (the same)
    _known.update(sys.modules)
    yield "dataclass cache"
    import gc

    gc.unfreeze()  # (frozen step by step: see compose.cli.warmserver) the import garbage goes
    gc.collect()
    gc.freeze()  # children's collections leave the preloaded objects (and their pages) alone
    yield "done"




def for_daemons() -> Iterator[str]:
    """Import, in steps, what the supervisor and the DNS daemon a starting ``up`` will have
    this engine fork import first: the supervisor's module and the engine calls it prepares
    (it is asked for first), then the DNS daemon's server and the firewall backend it applies
    its redirect with. They then serve at once, and their start-up no longer takes the CPU
    from the command while it creates the network and the containers; this engine does it
    while the command is still loading the project (one core is otherwise idle then)."""
    for name in ("compose.orchestrator.daemon", "compose.orchestrator.engine_ops"):
        if name not in sys.modules:
            _load(name)
            yield name
    try:
        from compose.orchestrator import engine_ops

        for call in engine_ops.calls_loaded():  # (a step each: ~20 ms in all)
            yield f"supervisor call {call}"
    except Exception as exc:  # noqa: BLE001 - the supervisor then imports them itself
        sys.stderr.write(f"warm engine: supervisor calls not loaded: {exc!r}\n")
    for name in ("engine.networks.dnsd", "engine.networks.dns_server"):
        if name not in sys.modules:
            _load(name)
            yield name
    try:
        from engine.networks import firewall

        name = firewall.backend_name()  # (a file read or a dlopen: nothing is chosen here)
        backend = importlib.import_module(f"engine.networks.firewall.{name}")
        yield name
        if name == "iptables":
            backend.warm_up()
    except Exception as exc:  # noqa: BLE001 - the DNS daemon then loads it itself
        sys.stderr.write(f"warm engine: firewall backend not loaded: {exc!r}\n")
    yield "firewall"


def _load(name: str) -> None:
    """Import ``name``; one that fails (an optional dependency is missing, or a module loads
    only in its own context) is reported and left out."""
    import importlib

    try:
        importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - see above
        _known.add(name)  # (commands need not report it again)
        sys.stderr.write(f"warm engine: not preloaded: {name}: {exc!r}\n")


# Third-party and standard modules the engine imports inside functions (on first use): loaded
# up front so that no command pays for them. Anything else a command imports is reported by it
# when it ends (:func:`_report_new_modules`) and loaded between commands. Not networkx: no
# command builds a networkx graph (compose.graph is plain Python; ServiceGraph.to_networkx is
# for API users), and it took ~90 ms of the preload, beside the commands after a first one.
_HEAVY = ["iptc", "pyroute2.iproute.linux", "pyroute2.netlink.exceptions",
          "jsonschema", "jsonschema.exceptions", "dns.message", "dns.rdatatype", "pyseccomp",
          "watchfiles", "yaml._yaml", "typer._click.exceptions", "typer._coercion", "tarfile",
          "sqlite3", "subprocess", "difflib", "secrets", "urllib.request", "http.client",
          "zstandard", "ctypes.util"]
# (``_cython_3_3_1`` and the like: the shared module Cython extensions register in sys.modules,
# which no import statement can load)
_NEVER = ("__main__", "kubernetes", "compose.k8s", "compose.pytest_plugin", "pytest", "_pytest",
          "_cython_")
_known: set[str] = set()


def learning(names: object) -> Iterator[str]:
    """Import ``names`` (module names a command used) into the engine for later commands,
    yielding after each."""
    if not isinstance(names, list):
        return
    for name in names:
        if isinstance(name, str) and name not in sys.modules and not name.startswith(_NEVER):
            _load(name)
            yield name
    _known.update(sys.modules)


def report_new_modules() -> None:
    """In a command child: tell the engine which modules this command had to import."""
    new = sorted(n for n in set(sys.modules) - _known if not n.startswith(_NEVER))
    if new:
        warm.tell({"op": "learn", "modules": new})
