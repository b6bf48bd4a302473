"""What the commands spend *inside* themselves: ``up -d``, ``ps``, ``exec -T``, ``run --rm -T``
and ``down`` of a 1-service busybox stack, run in one warm process (everything imported first),
so interpreter start-up and imports are out of the numbers.

Run as root:  .venv/bin/python bench/inprocess_bench.py [--rounds 5] [--warm-helpers]

Prints the median and minimum wall time and the CPU time (``time.process_time``) of each
command over the rounds after the first. ``--warm-helpers`` keeps the project supervisor and
the shim fork server running between rounds (a stand-in for helpers that start in a few ms).
Uses a private state root, removed at the end with everything in it.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

IMAGE = "pcbench/busybox:1"
COMPOSE = f"""services:
  s0:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]
"""
COMMANDS = (["up", "-d"], ["ps"], ["exec", "-T", "s0", "true"],
            ["run", "--rm", "-T", "s0", "true"], ["down"])


def _call(main: Callable[[list[str]], object], argv: list[str]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exc:
            if exc.code:
                raise RuntimeError(f"{' '.join(argv)} exited {exc.code}") from None
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


def _tar(work: Path) -> Path:
    from tests.support.rootfs import make_busybox_rootfs

    rootfs = make_busybox_rootfs(work / "rootfs")
    with tarfile.open(work / "image.tar", "w") as tf:
        tf.add(rootfs, arcname=".")
    return work / "image.tar"


@contextlib.contextmanager
def _helpers_kept(keep: bool) -> Iterator[None]:
    """``down`` neither stops the supervisor nor the engine's helpers while this lasts."""
    from compose.orchestrator import down, engine_backend

    saved = (engine_backend.EngineBackend.stop_idle_helpers, down.client.stop_supervisor)
    if keep:
        engine_backend.EngineBackend.stop_idle_helpers = lambda self: None  # type: ignore
        down.client.stop_supervisor = lambda *a, **k: None  # type: ignore
    try:
        yield
    finally:
        engine_backend.EngineBackend.stop_idle_helpers = saved[0]  # type: ignore
        down.client.stop_supervisor = saved[1]  # type: ignore


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warm-helpers", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pc-inproc-"))
    os.environ["PYCOMPOSE_ROOT"] = str(work / "state")
    (work / "proj").mkdir()
    (work / "proj" / "compose.yaml").write_text(COMPOSE)
    from engine import dataclass_cache

    dataclass_cache.install()
    import compose.cli.main as cli

    _call(cli.main, ["image", "import", str(_tar(work)), IMAGE])
    os.chdir(work / "proj")
    results: dict[str, list[tuple[float, float]]] = {" ".join(c): [] for c in COMMANDS}
    try:
        _call(cli.main, ["ps"])
        with _helpers_kept(args.warm_helpers):
            for n in range(args.rounds + 1):
                for argv in COMMANDS:
                    timing = _call(cli.main, argv)
                    if n:  # the first round imports what the commands use
                        results[" ".join(argv)].append(timing)
    finally:
        with contextlib.suppress(Exception):
            _call(cli.main, ["down"])  # a real one: supervisor and idle helpers go too
        os.chdir("/")
        shutil.rmtree(work, ignore_errors=True)
    print(f"interpreter {sys.executable}; load {os.getloadavg()[0]:.2f}; rounds {args.rounds}"
          f"{'; helpers kept running' if args.warm_helpers else ''}")
    for name, runs in results.items():
        walls = [w for w, _ in runs]
        cpu = statistics.median(c for _, c in runs) if runs else 0.0
        if walls:
            print(f"{name:24s} wall median {statistics.median(walls):7.1f} ms "
                  f"(min {min(walls):7.1f})  cpu median {cpu:6.1f} ms")


if __name__ == "__main__":
    main()
