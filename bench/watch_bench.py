"""Benchmark ``pycompose watch``: time from a file write on the host to the new content being
visible in the running container (``develop.watch`` action ``sync``).

Starts a one-service busybox stack under ``pycompose watch``, then N times writes a fresh value
to a watched file and polls the container's root filesystem (its OverlayFS mount on the host,
every 1 ms) until the file there holds the value. Prints min / median / max in milliseconds;
the latency is the watch debounce (``QUIET_MS``) plus one ``tar`` exec into the container.

    .venv/bin/python bench/watch_bench.py [--runs 20]
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.up_bench import IMAGE, import_image  # noqa: E402

COMPOSE = f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
"""


def container_rootfs(root: Path, project: str) -> Path:
    """The host path of the service container's mounted root filesystem."""
    env = {**os.environ, "PYCOMPOSE_ROOT": str(root)}
    code = ("from engine import containers; from engine.containers import paths; "
            f"c = containers.list({{'com.docker.compose.project': {project!r}}})[0]; "
            "print(paths.rootfs_dir(c.id))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip())


def wait_for(path: Path, value: str, timeout: float = 10.0) -> float:
    """The perf_counter time at which ``path`` holds ``value`` (polled every millisecond)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if path.read_text() == value:
                return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.001)
    raise TimeoutError(f"{path} never showed {value!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pcwatch-"))
    root, proj, name = work / "state", work / "proj", "watchbench"
    import_image(root, work)
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "f.txt").write_text("start\n")
    (proj / "compose.yaml").write_text(COMPOSE)
    env = {**os.environ, "PYCOMPOSE_ROOT": str(root)}
    cli = [sys.executable, "-m", "compose.cli.main", "-p", name, "--progress", "quiet"]
    watcher = subprocess.Popen(cli + ["watch"], cwd=proj, env=env, stdout=subprocess.PIPE,
                               text=True)
    try:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            if "Watch enabled" in line:
                break
        target = container_rootfs(root, name) / "app" / "f.txt"
        times = []
        for i in range(args.runs):
            value = f"value {i} {time.time_ns()}\n"
            start = time.perf_counter()
            (proj / "src" / "f.txt").write_text(value)
            times.append(wait_for(target, value) - start)
            time.sleep(0.3)  # let the next write start a new batch
        ms = sorted(t * 1000 for t in times)
        print(f"interpreter: {sys.executable}")
        print(f"write → visible in container, {args.runs} runs: min {ms[0]:.0f} ms, "
              f"median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms")
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(30)
        subprocess.run(cli + ["down", "-v", "-t", "1"], cwd=proj, env=env, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
