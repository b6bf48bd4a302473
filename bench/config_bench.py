"""Benchmark ``pycompose config`` and CLI start-up.

Generates a 200-service compose file (and a small one), then times whole processes:
``pycompose --help``, ``pycompose config`` on the small file and on the 200-service file,
each run N times with the venv's console script (its interpreter is /usr/bin/python3).
Prints min / median / max wall time in milliseconds.

    .venv/bin/python bench/config_bench.py [--runs 20] [--keep DIR]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYCOMPOSE = REPO / ".venv" / "bin" / "pycompose"

SMALL = """\
services:
  web:
    image: nginx
    ports: ["8080:80"]
    depends_on: [db]
  db:
    image: postgres
    volumes: [data:/var/lib/postgresql/data]
volumes:
  data: {}
"""


def generate_services(count: int = 200) -> str:
    """A compose file with ``count`` services using most common keys (every 10th service
    depends on the previous ten, so the graph is non-trivial)."""
    lines = ["name: bench", "x-common: &common", "  restart: unless-stopped",
             "  labels: {tier: bench}", "services:"]
    for i in range(count):
        lines += [
            f"  svc{i}:",
            "    <<: *common",
            f"    image: registry.local/app{i % 7}:${{TAG:-latest}}",
            f"    command: [\"serve\", \"--port\", \"{8000 + i}\"]",
            f"    environment: [INDEX={i}, NAME=svc{i}, \"MODE=${{MODE:-prod}}\"]",
            f"    ports: [\"{10000 + i}:{8000 + i}\"]",
            f"    volumes: [\"data{i % 10}:/data\", \"./conf/{i}:/etc/app:ro\"]",
            "    healthcheck:",
            f"      test: [\"CMD\", \"wget\", \"-q\", \"http://localhost:{8000 + i}/\"]",
            "      interval: 10s",
            "      retries: 3",
            "    networks: [front, back]",
        ]
        if i % 10 and i > 0:
            lines.append(f"    depends_on: {{svc{i - 1}: {{condition: service_healthy}}}}")
    lines += ["networks:", "  front: {}", "  back: {internal: true}", "volumes:"]
    lines += [f"  data{i}: {{}}" for i in range(10)]
    return "\n".join(lines) + "\n"


def bench_env() -> dict[str, str]:
    """The environment for the runs: bytecode caching on (a developer shell may export
    PYTHONDONTWRITEBYTECODE, which makes every run recompile every module — not what users
    see after the first run or a wheel install)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def time_runs(argv: list[str], runs: int, cwd: Path) -> list[float]:
    """Wall-clock milliseconds of ``runs`` runs (after one warm-up); fails on non-zero exit."""
    env = bench_env()
    subprocess.run(argv, cwd=cwd, check=True, capture_output=True, env=env)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True, env=env)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", help="write the generated files to this directory")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="pycompose-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "small.yaml").write_text(SMALL)
    (work / "big.yaml").write_text(generate_services(200))
    head = PYCOMPOSE.read_text().splitlines()[0]
    print(f"interpreter: {head[2:]} (-> {Path(head[2:]).resolve()}), runs: {args.runs}")
    cases = {
        "pycompose --help": [str(PYCOMPOSE), "--help"],
        "pycompose config (small)": [str(PYCOMPOSE), "-f", "small.yaml", "config"],
        "pycompose config (200 services)": [str(PYCOMPOSE), "-f", "big.yaml", "config"],
        "pycompose config -q (200 services)": [str(PYCOMPOSE), "-f", "big.yaml", "config",
                                               "-q"],
    }
    for label, argv in cases.items():
        ms = time_runs(argv, args.runs, work)
        print(f"{label:38s} min {min(ms):7.1f} ms  median {statistics.median(ms):7.1f} ms  "
              f"max {max(ms):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
