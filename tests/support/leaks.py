"""What a state root left on the host: a leak check by name, for chaos runs and tests.

While a command runs, :class:`Sampler` reads the store (read-only) so :class:`Seen` knows every
network, endpoint and container ever recorded, even those whose row is gone by the time the
check runs; :func:`leaks` then looks for each of them on the host: mounts, netns files,
bridges, veths, cgroups, legacy-iptables rules (by owner tag), processes (by environment,
command line or cgroup), unix sockets and store rows.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Seen:
    """Everything the store recorded during one cycle (names to look for afterwards)."""

    containers: set[str] = field(default_factory=set)  # ids
    names: set[str] = field(default_factory=set)  # container names (sandbox keys)
    networks: dict[str, str] = field(default_factory=dict)  # id -> bridge
    veths: set[str] = field(default_factory=set)
    # hierarchies that had a pycompose/ parent before the cycle (its containers' or a test's)
    parents_before: set[str] = field(default_factory=lambda: set(_parents()))

    def sample(self, db: Path) -> None:
        if not db.exists():
            return
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        except sqlite3.Error:
            return
        try:
            for table, cols in (("containers", "id, name"), ("net_networks", "id, bridge"),
                                ("net_endpoints", "host_ifname, container_id"),
                                ("net_sandboxes", "container_id, path")):
                try:
                    rows = conn.execute(f"SELECT {cols} FROM {table}").fetchall()
                except sqlite3.Error:
                    continue
                for a, b in rows:
                    if table == "containers":
                        self.containers.add(a)
                        self.names.add(b)
                    elif table == "net_networks":
                        self.networks[a] = b
                    elif table == "net_endpoints":
                        self.veths.add(a)
                    else:
                        self.names.add(a)
        finally:
            conn.close()


class Sampler(threading.Thread):
    """Samples the store every 30 ms into ``seen`` until ``stop`` is set."""

    def __init__(self, db: Path, seen: Seen) -> None:
        super().__init__(daemon=True)
        self.db, self.seen, self.stop = db, seen, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.03):
            self.seen.sample(self.db)


def leaks(root: Path, seen: Seen) -> list[str]:
    """Everything of the state root still on the host."""
    out = [f"mount {ln.split()[1]}" for ln in Path("/proc/self/mounts").read_text().splitlines()
           if str(root) in ln]
    netns = root / "netns"
    out += [f"netns file {p.name}" for p in netns.iterdir()] if netns.is_dir() else []
    links = set(os.listdir("/sys/class/net"))
    out += [f"bridge {b}" for b in seen.networks.values() if b in links]
    out += [f"veth {v}" for v in _possible_veths(seen) if v in links]
    out += [f"cgroup {p}" for p in _cgroups(seen.containers)]
    out += [f"cgroup {h}/pycompose (empty: no container is left in it)"
            for h, children in _parents().items()
            if not children and h not in seen.parents_before]
    out += [f"iptables {r}" for r in _rules(root, seen)]
    out += [f"process {p}" for p in processes(root, seen.containers)]
    out += [f"socket {s}" for s in _unix_sockets(root)]
    run = root / "run"
    engines = _engine_files(root)
    out += [f"run file {p.name}" for p in run.iterdir()  # (the warm engine's are not leaks)
            if p.suffix in (".pid", ".sock") and p.name not in engines
            ] if run.is_dir() else []
    out += [f"row {r}" for r in _rows(root)]
    return out


def _possible_veths(seen: Seen) -> set[str]:
    from engine.naming import veth_name

    return seen.veths | {veth_name(k, n) for k in seen.names for n in seen.networks}


def _cgroups(cids: set[str]) -> list[str]:
    base = Path("/sys/fs/cgroup")
    found = []
    for hier in [base, *base.iterdir()] if base.is_dir() else []:
        for cid in cids:
            if (hier / "pycompose" / cid).is_dir():
                found.append(f"{hier.name}/pycompose/{cid[:12]}")
    return found


def _parents() -> dict[str, int]:
    """Each hierarchy's pycompose/ parent: how many cgroups are in it."""
    base = Path("/sys/fs/cgroup")
    found = {}
    for hier in [base, *base.iterdir()] if base.is_dir() else []:
        parent = hier / "pycompose"
        if parent.is_dir():
            found[hier.name] = sum(p.is_dir() for p in parent.iterdir())
    return found


def _rules(root: Path, seen: Seen) -> list[str]:
    tags = {f"pycompose:net:{n[:12]}" for n in seen.networks}
    tags |= {"pycompose:ctr:" + hashlib.sha256(f"{root}\0{k}".encode()).hexdigest()[:16]
             for k in seen.names}
    try:
        dump = subprocess.run(["iptables-legacy-save"], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [ln for ln in dump.splitlines() if any(t in ln for t in tags)]


KEPT_SHIM_SERVER = b"engine-owned"  # engine.containers.shimd.ENGINE_OWNED


def kept_shim_server(root: Path) -> bool:
    """True while the warm engine of ``root`` keeps a shim fork server."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            # (a server forked by the engine has the engine's argument area: NUL-padded)
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        except OSError:
            continue
        if cmd[-1:] == [KEPT_SHIM_SERVER] and str(root).encode() in cmd:
            return True
    return False


def _engine_files(root: Path) -> set[str]:
    """The warm engine's own files in ``run/`` (its socket; the kept shim server's)."""
    run = root / "run"
    names = {p.name for p in run.iterdir() if p.name.startswith("engine-")} if run.is_dir() \
        else set()
    return names | ({"shimd.sock"} if kept_shim_server(root) else set())


def processes(root: Path, cids: set[str]) -> list[str]:
    mark = f"PYCOMPOSE_ROOT={root}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            cg = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
        if b"compose.cli.warmserver" in cmd or KEPT_SHIM_SERVER in cmd:
            continue  # the warm engine and the shim server it keeps: they exit on their own
                      # (test_warm_engine.py checks when)
        if mark in env or str(root).encode() in cmd or any(c in cg for c in cids):
            found.append(f"{pid} {cmd[:90].decode(errors='replace')}")
    return found


def _unix_sockets(root: Path) -> list[str]:
    found = []
    for ln in Path("/proc/net/unix").read_text().splitlines()[1:]:
        parts = ln.split()
        if "/run/engine-" in parts[-1] or (
                parts[-1].endswith("/run/shimd.sock") and kept_shim_server(root)):
            continue  # the warm engine's sockets: they go with it (test_warm_engine.py)
        if len(parts) >= 8 and parts[7].startswith(str(root)):
            found.append(parts[7])
    return found


def _rows(root: Path) -> list[str]:
    db = root / "state.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = []
        for table, col in (("containers", "name"), ("net_networks", "name"),
                           ("net_sandboxes", "container_id"), ("net_endpoints", "host_ifname"),
                           ("net_ports", "container_id")):
            try:
                out += [f"{table} {r[0]}" for r in conn.execute(f"SELECT {col} FROM {table}")]
            except sqlite3.Error:
                pass
        return out
    finally:
        conn.close()
