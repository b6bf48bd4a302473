"""A 3-service stack up (healthy), one exec, down: through the in-process API
(``compose.api.Project``) vs through the CLI (``pycompose up -d --wait`` / ``exec -T`` /
``down -v``), and vs testcontainers-python's ``DockerCompose`` on docker when available.

Run as root:  .venv/bin/python bench/api_bench.py [--repeat 5]

The stack: db (healthcheck passing on its first probe, interval 200 ms), api (depends on db
healthy), web (depends on api), all from one busybox image, in a private state root removed at
the end. Times are wall clock, median of ``--repeat`` runs:

- API: a fresh interpreter (sys.executable, printed) runs ``import compose.api``, the cycle,
  and exits; "in-process" is the cycle as measured inside it, imports included; "process" is
  the whole child, interpreter start included — what a one-shot script pays.
- CLI: the three commands, each a new ``python -m compose.cli.main`` process.
- testcontainers: only when ``testcontainers`` is importable, ``docker info`` answers and
  ``docker compose`` (v2) exists; otherwise the row says why it was not run.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

IMAGE = "pcbench/busybox:1"
SLEEP = """["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]"""
STACK = f"""
services:
  db:
    image: {IMAGE}
    command: {SLEEP}
    healthcheck: {{test: ["CMD", "true"], interval: 200ms, retries: 10}}
  api:
    image: {IMAGE}
    command: {SLEEP}
    depends_on: {{db: {{condition: service_healthy}}}}
  web:
    image: {IMAGE}
    command: {SLEEP}
    depends_on: [api]
"""

API_CYCLE = """
import sys, time, json
t0 = time.perf_counter()
from compose.api import Project
with Project(["compose.yaml"], name=sys.argv[1]) as p:
    r = p.exec("web", ["echo", "hi"])
    assert r.stdout == "hi\\n", r
print(json.dumps({"cycle": time.perf_counter() - t0}))
"""


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed, proc.stdout


def bench_api(proj: Path, env: dict[str, str], name: str) -> tuple[float, float]:
    wall, out = run([sys.executable, "-c", API_CYCLE, name], proj, env)
    return json.loads(out.splitlines()[-1])["cycle"], wall


def bench_cli(proj: Path, env: dict[str, str], name: str) -> float:
    cli = [sys.executable, "-m", "compose.cli.main", "-p", name, "--progress", "quiet"]
    total = 0.0
    for args in (["up", "-d", "--wait"], ["exec", "-T", "web", "echo", "hi"], ["down", "-v"]):
        elapsed, _ = run(cli + args, proj, env)
        total += elapsed
    return total


def testcontainers_row(proj: Path) -> str:
    """testcontainers-python's DockerCompose on docker, or why it was not run."""
    try:
        from testcontainers.compose import DockerCompose  # type: ignore[import-not-found]
    except ImportError:
        return "not run: testcontainers-python is not installed"
    if shutil.which("docker") is None:
        return "not run: no docker CLI"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "not run: no docker daemon answers (docker info failed)"
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        return "not run: no docker compose v2 plugin (testcontainers needs it)"
    t0 = time.perf_counter()
    with DockerCompose(str(proj), wait=True) as dc:
        dc.exec_in_container(["echo", "hi"], service_name="web")
    return f"{time.perf_counter() - t0:.2f} s (image {IMAGE} must exist in docker)"


def import_image(root: Path, work: Path) -> None:
    import tarfile

    from tests.support.rootfs import make_busybox_rootfs

    rootfs = make_busybox_rootfs(work / "rootfs")
    tar = work / "rootfs.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(rootfs, arcname=".")
    os.environ["PYCOMPOSE_ROOT"] = str(root)
    from engine import images

    images.import_rootfs(tar, IMAGE, changes={"Cmd": ["sh"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pcapibench-"))
    root = work / "state"
    proj = work / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(STACK)
    env = {**os.environ, "PYCOMPOSE_ROOT": str(root)}
    try:
        import_image(root, work)
        run([sys.executable, "-c", API_CYCLE, "warm"], proj, env)  # first start: page cache
        api_cycle, api_wall, cli = [], [], []
        for i in range(args.repeat):  # interleaved, so load on the machine hits both alike
            cycle, wall = bench_api(proj, env, f"api{i}")
            api_cycle.append(cycle)
            api_wall.append(wall)
            cli.append(bench_cli(proj, env, f"cli{i}"))
        med = statistics.median
        print(f"interpreter: {sys.executable}; median of {args.repeat}; 3 services up "
              "(healthy) + 1 exec + down -v")
        print(f"  API in-process (imports included): {med(api_cycle):.3f} s  "
              f"(min {min(api_cycle):.3f})")
        print(f"  API whole process:                 {med(api_wall):.3f} s  "
              f"(min {min(api_wall):.3f})")
        print(f"  CLI, 3 commands:                   {med(cli):.3f} s  (min {min(cli):.3f})")
        print(f"  testcontainers DockerCompose:      {testcontainers_row(proj)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
