"""Side-by-side timings of pycompose and its peers on the same stacks (driver of compare.sh).

    .venv/bin/python bench/compare.py [--runs 5] [--tools pycompose,docker-compose,podman-compose]
                                      [--pycompose CMD] [--stacks 1,2,10,50] [--json FILE]
                                      [--also LABEL=CMD ...]

Stacks: 1, 2 and 10 independent busybox services, and 50 services in 5 levels of 10 (each
service depends on every service of the level before). For each stack and tool: ``up -d``
then ``down``, repeated; on the 1-service stack also ``run --rm -T s0 true``, ``exec -T s0
true`` and ``ps`` while it runs, ``--help`` and ``config``, and ``config`` and ``up -d``/``down``
with no warm engine of pycompose's running, then the ``up -d``/``down`` cycle after that (what a
user meets after a pause; the other rows mostly find the engine the command before started).
Every figure is the median wall time (ms) of ``--runs`` runs after one warm-up run, each
command a whole process. The table
gives each peer's ratio to pycompose and pycompose's ratio to the fastest peer (< 1: faster).

Peers run only when usable: docker-compose needs ``DOCKER_HOST`` pointing at a running dockerd,
podman-compose needs ``PODMAN_COMPOSE`` (its path) or one on PATH. compare.sh sets both up.
The busybox image comes from Debian's busybox-static (tests/support/rootfs.py), imported into
each tool from the same rootfs tarball.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
IMAGE = "pcbench/busybox:1"
COMMAND = """["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]"""
TOOLS = ("pycompose", "docker-compose", "podman-compose")


def compose_file(n: int) -> str:
    """``n`` independent services; ``n == 50``: 5 levels of 10, each on the whole level
    before."""
    lines = ["services:"]
    levels = 5 if n == 50 else 1
    per = n // levels
    for level in range(levels):
        for i in range(per):
            lines += [f"  s{level * per + i}:", f"    image: {IMAGE}", f"    command: {COMMAND}"]
            if level:
                lines.append("    depends_on: [" + ", ".join(
                    f"s{(level - 1) * per + j}" for j in range(per)) + "]")
    return "\n".join(lines) + "\n"


class Tool:
    """How to run one compose implementation: argv prefix and environment."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, argv, env

    def run(self, args: list[str], cwd: Path, check: bool = True) -> float:
        """Run ``args``; wall time in ms (raises RuntimeError on a non-zero exit if check)."""
        t0 = time.perf_counter()
        proc = subprocess.run(self.argv + args, cwd=cwd, env=self.env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        elapsed = (time.perf_counter() - t0) * 1000
        if check and proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: exit {proc.returncode}: "
                               f"{proc.stderr.strip()[-600:]}")
        return elapsed


def median_of(runs: int, fn: Callable[[], float], after: Callable[[], object] | None = None
              ) -> float:
    """Median of ``runs`` timed calls after one warm-up (``after`` runs untimed after each)."""
    times = []
    for i in range(runs + 1):
        elapsed = fn()
        if after is not None:
            after()
        if i:
            times.append(elapsed)
    return statistics.median(times)


def bench_tool(tool: Tool, work: Path, stacks: list[int], runs: int) -> dict[str, float | str]:
    results: dict[str, float | str] = {}
    for n in stacks:
        proj = work / f"{tool.name}-{n}"
        proj.mkdir(parents=True, exist_ok=True)
        (proj / "compose.yaml").write_text(compose_file(n))
        name = ["-p", f"cmp{n}"]
        label = f"{n} services (5 levels)" if n == 50 else f"{n} service{'s' * (n > 1)}"
        downs: list[float] = []
        try:
            results[f"{label}: up -d"] = median_of(
                runs, lambda: tool.run(name + ["up", "-d"], proj),  # noqa: B023
                after=lambda: downs.append(tool.run(name + ["down"], proj)))  # noqa: B023
            results[f"{label}: down"] = statistics.median(downs[1:])
            if n == 1:
                results.update(one_offs(tool, proj, name, runs))
        except RuntimeError as exc:
            results[f"{label}: up -d"] = f"error: {exc}"
            tool.run(name + ["down"], proj, check=False)
    return results


def one_offs(tool: Tool, proj: Path, name: list[str], runs: int) -> dict[str, float]:
    out = {}
    tool.run(name + ["up", "-d"], proj)
    try:
        for args in (["run", "--rm", "-T", "s0", "true"], ["exec", "-T", "s0", "true"], ["ps"]):
            out[" ".join(args)] = median_of(runs, lambda: tool.run(name + args, proj))  # noqa: B023
    finally:
        tool.run(name + ["down"], proj)
    for args in (["--help"], ["config"]):
        out[" ".join(args)] = median_of(runs, lambda: tool.run(args, proj))  # noqa: B023
    out.update(first_after_idle(tool, proj, name, runs))
    return out


def first_after_idle(tool: Tool, proj: Path, name: list[str], runs: int) -> dict[str, float]:
    """What a user meets first after a pause: ``config``, and a one-service ``up -d``, its
    ``down`` and the next ``up -d``/``down`` cycle, with no warm engine of pycompose's running
    before the first ``up`` (it goes 0.5 s after a ``down`` that left nothing, 5 s after a
    command when no project runs). The rows above mostly find the engine of the command
    before; in the second cycle here, the engine is still loading."""
    def timed(args: list[str]) -> float:
        wait_engine_gone(tool)
        return tool.run(args, proj)

    config = median_of(runs, lambda: timed(["config"]))
    cycles: list[list[float]] = []
    for i in range(runs + 1):  # the first is a warm-up
        times = [timed(name + ["up", "-d"])]
        times += [tool.run(name + args, proj) for args in (["down"], ["up", "-d"], ["down"])]
        if i:
            cycles.append(times)
    up, down, up2, down2 = (statistics.median(column) for column in zip(*cycles, strict=True))
    return {"config, no engine running": config, "1 service: up -d, no engine running": up,
            "1 service: down, after that up": down, "1 service: up -d, the cycle after": up2,
            "1 service: down, the cycle after": down2}


def wait_engine_gone(tool: Tool, within: float = 30.0) -> None:
    """Wait until no warm engine of ``tool``'s state root runs (pycompose; others: at once)."""
    root = tool.env.get("PYCOMPOSE_ROOT")
    if root is None:
        return
    needle = b"compose.cli.warmserver\0" + root.encode() + b"\0"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(needle in _cmdline(pid) for pid in os.listdir(
            "/proc") if pid.isdigit()):
        time.sleep(0.1)


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def make_rootfs_tar(work: Path) -> Path:
    sys.path.insert(0, str(REPO))
    from tests.support.rootfs import make_busybox_rootfs

    rootfs = make_busybox_rootfs(work / "rootfs")
    tar = work / "rootfs.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(rootfs, arcname=".")
    return tar


def setup_tools(names: list[str], pycompose: list[str], work: Path, tar: Path,
                variants: dict[str, list[str]]) -> list[Tool]:
    """The usable tools among ``names`` (and pycompose ``variants``: label -> command), each
    with the image imported."""
    tools = []
    for label, command in variants.items():
        env = {**os.environ, "PYCOMPOSE_ROOT": str(work / f"{label}-state")}
        tool = Tool(label, command, env)
        subprocess.run(command + ["image", "import", str(tar), IMAGE], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        tools.append(tool)
    for name in names:
        tool = make_tool(name, pycompose, work)
        if tool is None:
            print(f"# {name}: not usable here (see bench/compare.sh --install-peers)")
            continue
        engine_cli = {"pycompose": pycompose + ["image", "import"],
                      "docker-compose": [docker_cli(), "import", "--change", "CMD sh"],
                      "podman-compose": ["podman", "import", "--change", "CMD sh"]}[name]
        subprocess.run(engine_cli + [str(tar), IMAGE], env=tool.env, check=True,
                       stdout=subprocess.DEVNULL)
        tools.append(tool)
    return tools


def docker_cli() -> str:
    """Debian's docker client (matches dockerd 20.10) before any other on PATH."""
    return "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"


def make_tool(name: str, pycompose: list[str], work: Path) -> Tool | None:
    env = dict(os.environ)
    if name == "pycompose":
        env["PYCOMPOSE_ROOT"] = str(work / "pycompose-state")
        return Tool(name, pycompose, env)
    if name == "docker-compose":
        if not shutil.which("docker-compose") or not env.get("DOCKER_HOST"):
            return None
        return Tool(name, ["docker-compose"], env)
    path = env.get("PODMAN_COMPOSE") or shutil.which("podman-compose")
    if not path or not shutil.which("podman"):
        return None
    return Tool(name, [path], env)


def reference(runs: int) -> str:
    """One line about the machine: interpreter start-up, load, cores, kernel."""
    start = median_of(runs, lambda: Tool("python3", ["/usr/bin/python3", "-c", "pass"],
                                         dict(os.environ)).run([], Path("/")))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"reference: /usr/bin/python3 -c pass {start:.1f} ms; load {load}; "
            f"{os.cpu_count()} cores; kernel {platform.release()}; runs {runs} (median)")


def table(results: dict[str, dict[str, float | str]]) -> str:
    tools = list(results)
    rows = list(dict.fromkeys(k for r in results.values() for k in r))
    peers = [t for t in tools if t in TOOLS and t != "pycompose"]
    head = ["metric (ms)", *tools] + (["pycompose ÷ best peer"] if peers else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [row]
        values = {t: results[t].get(row) for t in tools}
        cells += [f"{v:.0f}" if isinstance(v, float) else ("err" if v else "–")
                  for v in values.values()]
        if peers:
            best = [v for t, v in values.items() if t in peers and isinstance(v, float)]
            ours = values.get("pycompose")
            cells.append(f"{ours / min(best):.2f}" if best and isinstance(ours, float) else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--stacks", default="1,2,10,50")
    parser.add_argument("--pycompose", default=str(REPO / ".venv" / "bin" / "pycompose"),
                        help="the pycompose command (split on spaces)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--also", action="append", default=[], metavar="LABEL=CMD",
                        help="another pycompose build to time alongside (e.g. the main branch)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pcbench-compare-"))
    results: dict[str, dict[str, float | str]] = {}
    try:
        variants = {label: cmd.split() for label, _, cmd in (a.partition("=") for a in args.also)}
        tools = setup_tools(args.tools.split(","), args.pycompose.split(), work,
                            make_rootfs_tar(work), variants)
        print(reference(args.runs))
        print(f"pycompose: {args.pycompose} (interpreter {interpreter(args.pycompose)})")
        for tool in tools:
            results[tool.name] = bench_tool(tool, work, [int(s) for s in
                                                         args.stacks.split(",")], args.runs)
            print(f"# {tool.name} done", flush=True)
        print(table(results))
        for name, res in results.items():
            for metric, value in res.items():
                if isinstance(value, str):
                    print(f"# {name} {metric}: {value}")
        print(reference(args.runs))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    finally:
        cleanup(work)


def interpreter(command: str) -> str:
    first = command.split()[0]
    try:
        line = Path(first).read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return first
    return line.removeprefix("#!") if line.startswith("#!") else first


def cleanup(work: Path) -> None:
    """Remove the work directory (pycompose's state root included: its stacks are down)."""
    for state in work.glob("*-state"):
        subprocess.run([sys.executable, "-c", "import engine.containers as c; c.sweep()"],
                       env={**os.environ, "PYCOMPOSE_ROOT": str(state)},
                       capture_output=True, cwd=REPO)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
