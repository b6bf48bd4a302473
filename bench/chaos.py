"""Chaos: SIGKILL ``up -d`` at a random moment, then ``down``; nothing may be left.

Run as root:  .venv/bin/python bench/chaos.py [--cycles 20] [--services 10]
              [--kill cli,group,supervisor,both] [--seed N]

Each cycle starts ``pycompose up -d`` of N independent busybox services in a private state
root and, after a random delay in [0, the measured duration of an unkilled ``up``], kills:

- ``cli``: the CLI's pid (what ``kill -9 <pid>`` does);
- ``group``: the CLI's whole process group (what Ctrl-\\ at a terminal does, SIGKILL'd);
- ``supervisor``: the project supervisor only (the CLI goes on, or fails, on its own);
- ``both``: the supervisor, then the CLI.

Then ``down -v -t 1`` must exit 0 and leave nothing of the state root: no bridge, veth, netns,
mount, cgroup, legacy-iptables rule, process, listening socket or store row. While ``up``
runs, the store is sampled (read-only) so the check knows every network, endpoint and
container ever recorded, even those whose row is gone by the time ``down`` ran. A cycle whose
``up`` was not killed must have exited 0.

Per kill point (the last progress line ``up`` printed before the kill), the table gives
clean cycles / cycles. Leaks are listed, then scrubbed, so one bad cycle does not spoil the
next. Interpreter: sys.executable.
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.cli import import_busybox  # noqa: E402

IMAGE = "pctest/busybox:1"
PROJECT = "chaos"


def compose_file(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  svc{i:02d}:", f"    image: {IMAGE}",
                  """    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]"""]
    return "\n".join(lines) + "\n"


@dataclass
class Seen:
    """Everything the store recorded during one cycle (names to look for afterwards)."""

    containers: set[str] = field(default_factory=set)  # ids
    names: set[str] = field(default_factory=set)  # container names (sandbox keys)
    networks: dict[str, str] = field(default_factory=dict)  # id -> bridge
    veths: set[str] = field(default_factory=set)

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
    def __init__(self, db: Path, seen: Seen) -> None:
        super().__init__(daemon=True)
        self.db, self.seen, self.stop = db, seen, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.03):
            self.seen.sample(self.db)


class Cli:
    def __init__(self, root: Path, work: Path) -> None:
        self.root, self.work = root, work
        self.env = {**os.environ, "PYCOMPOSE_ROOT": str(root), "NO_COLOR": "1"}
        self.argv = [sys.executable, "-m", "compose.cli.main", "-p", PROJECT,
                     "--progress", "plain"]

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.argv, *args], cwd=self.work, env=self.env, text=True,
                              capture_output=True, timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*self.argv, *args], cwd=self.work, env=self.env, text=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)


def supervisor_pid(root: Path) -> int | None:
    try:
        return int((root / "run" / f"project-{PROJECT}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


# -- the leak check -----------------------------------------------------------------------------

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
    out += [f"iptables {r}" for r in _rules(root, seen)]
    out += [f"process {p}" for p in _processes(root, seen.containers)]
    out += [f"socket {s}" for s in _unix_sockets(root)]
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


def _rules(root: Path, seen: Seen) -> list[str]:
    import hashlib

    tags = {f"pycompose:net:{n[:12]}" for n in seen.networks}
    tags |= {"pycompose:ctr:" + hashlib.sha256(f"{root}\0{k}".encode()).hexdigest()[:16]
             for k in seen.names}
    try:
        dump = subprocess.run(["iptables-legacy-save"], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [ln for ln in dump.splitlines() if any(t in ln for t in tags)]


def _processes(root: Path, cids: set[str]) -> list[str]:
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
        if mark in env or str(root).encode() in cmd or any(c in cg for c in cids):
            found.append(f"{pid} {cmd[:90].decode(errors='replace')}")
    return found


def _unix_sockets(root: Path) -> list[str]:
    import hashlib

    shimd = "@pycompose-shimd-" + hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
    found = []
    for ln in Path("/proc/net/unix").read_text().splitlines()[1:]:
        parts = ln.split()
        if len(parts) >= 8 and (parts[7].startswith(str(root)) or parts[7] == shimd):
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


def scrub(root: Path, seen: Seen) -> None:
    """Remove what a failed cycle left (so the next cycle starts clean)."""
    code = ("from engine import containers, networks\n"
            "networks.cleanup_all()\n"
            "for c in containers.list_containers(): containers.delete(c.id, force=True)\n"
            "containers.sweep()\n"
            "from engine.containers import shimd; shimd.stop_server()\n")
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYCOMPOSE_ROOT": str(root)},
                   capture_output=True, cwd=Path(__file__).resolve().parent.parent)
    for line in _processes(root, seen.containers):
        try:
            os.kill(int(line.split()[0]), signal.SIGKILL)
        except OSError:
            pass
    for bridge in seen.networks.values():
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


# -- one cycle ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    kind: str
    delay: float
    point: str
    up_code: int | None  # None: killed
    down_code: int
    down_err: str
    left: list[str]

    @property
    def clean(self) -> bool:
        return (self.down_code == 0 and not self.left
                and (self.up_code in (None, 0) or self.kind in ("supervisor",)))


def cycle(cli: Cli, root: Path, kind: str, delay: float) -> Outcome:
    seen = Seen()
    sampler = Sampler(root / "state.db", seen)
    sampler.start()
    proc = cli.popen("up", "-d")
    assert proc.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or []), daemon=True)
    reader.start()
    up_code: int | None = None
    try:
        up_code = proc.wait(delay)
    except subprocess.TimeoutExpired:
        point = lines[-1].strip() if lines else "(nothing printed)"
        _kill(proc, root, kind)
        if kind == "supervisor":
            up_code = proc.wait(120)
    else:
        point = "(finished)"
    proc.wait(120)
    reader.join(5)
    if up_code not in (None, 0):
        point += f" [up exited {up_code}: {''.join(lines)[-300:]!r}]"
    down = cli.run("down", "-v", "-t", "1")
    sampler.stop.set()
    sampler.join()
    seen.sample(root / "state.db")
    left = leaks(root, seen)
    outcome = Outcome(kind, delay, _bucket(point), up_code, down.returncode,
                      down.stderr[-600:], left)
    if not outcome.clean:
        scrub(root, seen)
    return outcome


def _kill(proc: subprocess.Popen[str], root: Path, kind: str) -> None:
    if kind in ("supervisor", "both"):
        pid = supervisor_pid(root)
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if kind == "cli" or kind == "both":
        proc.kill()
    elif kind == "group":
        os.killpg(proc.pid, signal.SIGKILL)


def _bucket(point: str) -> str:
    """``Container chaos-svc03-1  Creating`` -> ``Container Creating``."""
    words = point.split()
    if len(words) >= 3 and words[0] in ("Container", "Network", "Volume", "Image"):
        return f"{words[0]} {' '.join(words[2:])}"
    return point


# -- main ---------------------------------------------------------------------------------------

def calibrate(cli: Cli) -> float:
    t0 = time.perf_counter()
    up = cli.run("up", "-d")
    took = time.perf_counter() - t0
    if up.returncode != 0:
        raise SystemExit(f"calibration up failed:\n{up.stderr}")
    down = cli.run("down", "-v", "-t", "1")
    if down.returncode != 0:
        raise SystemExit(f"calibration down failed:\n{down.stderr}")
    return took


def report(outcomes: list[Outcome]) -> None:
    table: dict[tuple[str, str], list[Outcome]] = collections.defaultdict(list)
    for o in outcomes:
        table[(o.kind, o.point)].append(o)
    print(f"\n{'kill':<11}{'point (last progress line)':<44}clean/total")
    for (kind, point), rows in sorted(table.items()):
        clean = sum(o.clean for o in rows)
        print(f"{kind:<11}{point[:42]:<44}{clean}/{len(rows)}")
    total = sum(o.clean for o in outcomes)
    print(f"{'all':<55}{total}/{len(outcomes)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--services", type=int, default=10)
    ap.add_argument("--kill", default="cli", help="comma list of cli,group,supervisor,both")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--min-delay", type=float, default=0.0, help="seconds")
    ap.add_argument("--max-delay", type=float, default=None,
                    help="seconds (default: the measured duration of one up -d)")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    kinds = args.kill.split(",")
    with tempfile.TemporaryDirectory(prefix="pcchaos-") as tmp:
        work = Path(tmp)
        root = work / "state"
        from tests.support.rootfs import make_busybox_rootfs

        import_busybox(root, make_busybox_rootfs(work / "rootfs"), work)
        (work / "compose.yaml").write_text(compose_file(args.services))
        cli = Cli(root, work)
        span = args.max_delay or calibrate(cli)
        print(f"python {sys.executable}; seed {seed}; {args.services} services; "
              f"delays in [{args.min_delay:.2f}, {span:.2f}] s")
        outcomes = []
        for i in range(args.cycles):
            kind = kinds[i % len(kinds)]
            o = cycle(cli, root, kind, rng.uniform(args.min_delay, span))
            outcomes.append(o)
            status = "clean" if o.clean else "LEAK/FAIL"
            print(f"{i + 1:3d} {kind:<10} {o.delay:5.2f}s {o.point[:50]:<50} up={o.up_code} "
                  f"down={o.down_code} {status}", flush=True)
            if not o.clean:
                if o.down_code:
                    print(f"      down: {o.down_err.strip()[-400:]}")
                for item in o.left:
                    print(f"      left: {item}")
        report(outcomes)
        scrub(root, Seen())
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
