"""``up`` to all-healthy and ``down`` for 1-, 10- and 50-service stacks, through the CLI.

Run as root:  .venv/bin/python bench/up_bench.py [--sizes 1,10,50] [--repeat 1]

Each stack: N services from one busybox image, each with a healthcheck that passes on its
first probe (interval 200 ms), so "all healthy" is ``up -d --wait`` returning. The times are
wall clock of the CLI invocations (interpreter: sys.executable, printed). Uses a private state
root and removes everything at the end.

Side by side: podman-compose (``podman`` + ``podman-compose``) and docker-compose v1
(``docker-compose`` with a running ``dockerd``) are run on the same compose file when they are
installed; on hosts without them the rows say "not installed".
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

IMAGE = "pcbench/busybox:1"


def compose_file(n: int, healthcheck: str) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    image: {IMAGE}",
                  """    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]""",
                  "    healthcheck:", f"      test: {healthcheck}",
                  "      interval: 200ms", "      retries: 10"]
    return "\n".join(lines) + "\n"


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def bench_pycompose(n: int, work: Path, root: Path) -> tuple[float, float]:
    proj = work / f"py{n}"
    proj.mkdir()
    (proj / "compose.yaml").write_text(compose_file(n, '["CMD", "true"]'))
    env = {**os.environ, "PYCOMPOSE_ROOT": str(root)}
    cli = [sys.executable, "-m", "compose.cli.main", "-p", f"bench{n}", "--progress", "quiet"]
    up = timed(cli + ["up", "-d", "--wait"], proj, env)
    down = timed(cli + ["down", "-v", "-t", "2"], proj, env)
    return up, down


def import_image(root: Path, work: Path) -> Path:
    from tests.support.rootfs import make_busybox_rootfs

    rootfs = make_busybox_rootfs(work / "rootfs")
    tar = work / "rootfs.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(rootfs, arcname=".")
    os.environ["PYCOMPOSE_ROOT"] = str(root)
    from engine import images

    images.import_rootfs(tar, IMAGE, changes={"Cmd": ["sh"]})
    return tar


def bench_peer(tool: str, n: int, work: Path, tar: Path) -> str:
    """podman-compose / docker-compose on the same file, when installed and usable."""
    if tool == "podman-compose" and not (shutil.which("podman") and shutil.which(tool)):
        return "not installed"
    if tool == "docker-compose":
        if not shutil.which(tool) or subprocess.run(["docker", "info"], capture_output=True
                                                    ).returncode != 0:
            return "not installed (or no dockerd)"
    engine_cli = "podman" if tool == "podman-compose" else "docker"
    subprocess.run([engine_cli, "import", "--change", "CMD sh", str(tar), IMAGE],
                   capture_output=True, check=True)
    proj = work / f"{tool}{n}"
    proj.mkdir()
    (proj / "compose.yaml").write_text(compose_file(n, '["CMD", "true"]'))
    env = dict(os.environ)
    up_args = ["up", "-d"] + (["--wait"] if tool == "docker-compose" else [])
    up = timed([tool, "-p", f"bench{n}", *up_args], proj, env)
    down = timed([tool, "-p", f"bench{n}", "down", "-v", "-t", "2"], proj, env)
    return f"up {up:.2f} s, down {down:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="pcbench-"))
    root = work / "state"
    try:
        tar = import_image(root, work)
        print(f"interpreter: {sys.executable}")
        print(f"{'services':>8}  {'pycompose up→healthy':>22}  {'pycompose down':>15}  peers")
        for n in sizes:
            up, down = bench_pycompose(n, work, root)
            peers = "; ".join(f"{t}: {bench_peer(t, n, work, tar)}"
                              for t in ("podman-compose", "docker-compose"))
            print(f"{n:>8}  {up:>20.2f} s  {down:>13.2f} s  {peers}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
