"""The package's lazy public API (PEP 562) stays intact once every submodule is imported."""
from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import engine.networks as N


def test_exports_resolve_to_the_api_not_to_submodules() -> None:
    for info in pkgutil.iter_modules(N.__path__):
        if info.name != "dnsd":
            importlib.import_module(f"engine.networks.{info.name}")
    for name in N.__all__:
        value = getattr(N, name)
        assert not isinstance(value, types.ModuleType), name


def test_importing_the_package_and_dns_daemon_entry_skips_iptables_and_netlink() -> None:
    code = ("import sys, engine.networks, engine.networks.dnsd;"
            " print(sorted(m for m in ('iptc', 'pyroute2', 'dns') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_dns_server_defers_dnspython_until_queries() -> None:
    code = ("import sys, engine.networks.dns_server as s; before = 'dns' in sys.modules;"
            " s.load_resolver(); print(before, 'dns' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "True"]


def test_dns_server_loads_dnspython_at_idle_only_once_it_serves_a_sandbox() -> None:
    """Before any sandbox, the daemon waits for one (and the ``sync`` that announces it) with
    nothing to import: a ``connect`` waited behind that import. Serving one, the first idle
    moment loads it, before the container's first query."""
    from engine.networks import dns_server

    daemon = object.__new__(dns_server.Daemon)
    daemon.listeners = {}
    assert daemon._idle_check(False) == dns_server.UNUSED_EXIT_S
    daemon.listeners = {"c1": object()}  # type: ignore[dict-item]
    assert daemon._idle_check(False) < 0.1
    assert daemon._idle_check(True) == dns_server.ORPHAN_CHECK_S


def test_dns_daemon_never_locks_an_unlinked_pid_file(state_root: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.networks import dns_control, dnsd

    real_flock = dnsd.fcntl.flock
    calls = []

    def flock_after_old_daemon_exits(fd: int, op: int) -> None:
        if not calls:  # the old daemon unlinks its pid file between our open and our flock
            os.unlink(dns_control.pid_path())
        calls.append(fd)
        real_flock(fd, op)

    dns_control.run_dir().mkdir(parents=True)
    dns_control.pid_path().write_text("1\n")
    monkeypatch.setattr(dnsd.fcntl, "flock", flock_after_old_daemon_exits)
    fd = dnsd._lock_pid_file()
    assert fd is not None and len(calls) == 2
    assert os.fstat(fd).st_ino == os.stat(dns_control.pid_path()).st_ino
    os.close(fd)
