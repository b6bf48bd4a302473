"""Chaos: SIGKILL ``up -d`` at a random moment, then ``down``; nothing may be left.

Run as root:  .venv/bin/python bench/chaos.py [--cycles 20] [--services 10]
              [--kill cli,group,supervisor,both] [--seed N]

Each cycle starts ``pycompose up -d`` of N independent busybox services in a private state
root and, after a random delay in [0, the measured duration of an unkilled ``up``], kills:

- ``cli``: the CLI's pid (what ``kill -9 <pid>`` does);
- ``group``: the CLI's whole process group (what Ctrl-\\ at a terminal does, SIGKILL'd);
- ``supervisor``: the project supervisor only (the CLI goes on and must still succeed);
- ``both``: the supervisor, then the CLI.

Then ``down -v -t 1`` must exit 0 and leave nothing of the state root: no bridge, veth, netns,
mount, cgroup, legacy-iptables rule, process, listening socket or store row. While ``up``
runs, the store is sampled (read-only) so the check knows every network, endpoint and
container ever recorded, even those whose row is gone by the time ``down`` ran (see
tests/support/leaks.py). An ``up`` that was not killed must have exited 0.

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
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.cli import import_busybox  # noqa: E402
from tests.support.leaks import Sampler, Seen, leaks, processes  # noqa: E402

IMAGE = "pctest/busybox:1"
PROJECT = "chaos"


def compose_file(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  svc{i:02d}:", f"    image: {IMAGE}",
                  """    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]"""]
    return "\n".join(lines) + "\n"


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


def scrub(root: Path, seen: Seen) -> None:
    """Remove what a failed cycle left (so the next cycle starts clean)."""
    code = ("from engine import containers, networks\n"
            "networks.cleanup_all()\n"
            "for c in containers.list_containers(): containers.delete(c.id, force=True)\n"
            "containers.sweep()\n"
            "from engine.containers import shimd; shimd.stop_server()\n")
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYCOMPOSE_ROOT": str(root)},
                   capture_output=True, cwd=Path(__file__).resolve().parent.parent)
    for line in processes(root, seen.containers):
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
        return self.down_code == 0 and not self.left and self.up_code in (None, 0)


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
    """``Container chaos-svc03-1 Creating`` -> ``Container Creating``."""
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
