"""Container lifecycle latency: create + start + exit + delete of a busybox ``true``.

Run as root:  .venv/bin/python bench/containers_bench.py [--count 20]

Side by side in one run, on the same busybox rootfs:
- the engine (``engine.containers``: row, overlay mount, config.json, detached shim, runtime
  create/start, exit recorded, delete) on each runtime: builtin, runc, crun;
- the bare runtimes, ``runc run`` and ``crun run`` on one prepared bundle (the same config.json
  the engine writes; crun wrapped in a private mount namespace on hybrid cgroup hosts).
Uses a private state root and removes everything at the end. Interpreter: sys.executable.
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
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(fn: Callable[[int], None], count: int) -> list[float]:
    fn(-1)  # warm up (imports, page cache)
    out = []
    for i in range(count):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def engine_cycle(rootfs: Path, runtime: str) -> Callable[[int], None]:
    import engine.containers as c

    def cycle(i: int) -> None:
        os.environ["PYCOMPOSE_RUNTIME"] = runtime
        info = c.create(c.ContainerSpec(name=f"bench-{runtime}-{i}", argv=("true",),
                                        layers=(rootfs,)))
        c.start(info.id)
        status = c.wait(info.id)
        c.delete(info.id)
        assert status.code == 0, status

    return cycle


def threaded(cycle: Callable[[int], None]) -> Callable[[int], None]:
    """The same cycle from a multi-threaded caller (the orchestrator's case): the shim cannot
    be forked from this process, so it comes from the fork server (or a fresh interpreter)."""
    import threading

    def run(i: int) -> None:
        parked = threading.Event()
        idle = threading.Thread(target=parked.wait)
        idle.start()
        try:
            cycle(i)
        finally:
            parked.set()
            idle.join()

    return run


def bare_cycle(bundle: Path, binary: str) -> Callable[[int], None]:
    from engine.containers.runtimes import OciCliRuntime

    rt = OciCliRuntime(binary)  # only for its argv prefix (crun on hybrid hosts) and root
    root = rt.root

    def cycle(i: int) -> None:
        argv = [*rt.prefix, rt.binary, "--root", str(root), "run", "--bundle", str(bundle),
                f"bare-{binary}-{i}"]
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    return cycle


def prepare_bundle(rootfs: Path, dest: Path) -> Path:
    from engine.containers.bundle import build_config
    from engine.containers.lifecycle import host_facts
    from engine.containers.spec import ContainerSpec
    from engine.containers.users import resolve_user

    spec = ContainerSpec(name="bare", argv=("true",), rootfs=rootfs, read_only=True)
    config = build_config("b" * 64, spec, resolve_user(rootfs, ""), host_facts(),
                          rootfs=str(rootfs))
    dest.mkdir(parents=True)
    (dest / "config.json").write_text(json.dumps(config))
    return dest


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pycompose-bench-"))
    os.environ["PYCOMPOSE_ROOT"] = str(tmp / "state")
    from engine.containers.runtimes import builtin_available
    from tests.support.rootfs import make_busybox_rootfs

    rootfs = make_busybox_rootfs(tmp / "rootfs")
    bundle = prepare_bundle(rootfs, tmp / "bundle")
    rows: list[tuple[str, list[float]]] = []
    try:
        runtimes = (["builtin"] if builtin_available() else []) + \
            [r for r in ("runc", "crun") if shutil.which(r)]
        for rt in runtimes:
            rows.append((f"engine ({rt})", measure(engine_cycle(rootfs, rt), args.count)))
        if "builtin" in runtimes:
            rows.append(("engine (builtin, thr)",
                         measure(threaded(engine_cycle(rootfs, "builtin")), args.count)))
        for rt in ("runc", "crun"):
            if shutil.which(rt):
                rows.append((f"{rt} run (bare)", measure(bare_cycle(bundle, rt), args.count)))
    finally:
        from engine.containers import shimd

        shimd.stop_server()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"create+start+exit+delete of busybox `true`, {args.count} runs, {sys.executable}")
    print(f"{'':22} {'median ms':>10} {'p90 ms':>8} {'min ms':>8}")
    for name, values in rows:
        p90 = sorted(values)[int(0.9 * (len(values) - 1))]
        print(f"{name:22} {statistics.median(values):10.1f} {p90:8.1f} {min(values):8.1f}")


if __name__ == "__main__":
    main()
