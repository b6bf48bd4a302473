"""Image benchmarks: pull throughput from a loopback registry, pycompose vs ``skopeo copy``;
cached rebuild time of a Dockerfile.

Run as root (RUN steps need containers):  /work/main/.venv/bin/python bench/images_bench.py
Options: --size-mb N (image size, default 64), --layers N (default 4), --repeat N (default 3).

The image is generated locally: N layers of random (incompressible) bytes, built with
``FROM scratch`` + ``COPY`` and pushed to Debian's ``docker-registry`` on 127.0.0.1.
pycompose's pull includes what a runnable image needs (download, digest check, unpacking
every layer into its lower dir); ``skopeo copy`` to an ``oci:`` layout only stores blobs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine.images as im  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def registry(work: Path) -> Iterator[str]:
    host = f"127.0.0.1:{_free_port()}"
    cfg = work / "registry.yml"
    cfg.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                   f"    rootdirectory: {work / 'registry'}\nhttp:\n  addr: {host}\n")
    proc = subprocess.Popen(["docker-registry", "serve", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield host
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)


def make_context(work: Path, size_mb: int, n_layers: int) -> Path:
    ctx = work / "ctx"
    ctx.mkdir()
    lines = ["FROM scratch"]
    per = size_mb * 1_000_000 // n_layers
    for i in range(n_layers):
        (ctx / f"blob{i}.bin").write_bytes(os.urandom(per))
        lines.append(f"COPY blob{i}.bin /data/blob{i}.bin")
    shutil.copy2("/bin/busybox", ctx / "busybox")
    lines += ["COPY busybox /bin/busybox", 'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
              "ENV BENCH=1", 'CMD ["sh"]']
    (ctx / "Dockerfile").write_text("\n".join(lines) + "\n")
    return ctx


def timed(fn: Callable[[], object], repeat: int, setup: Callable[[], None]) -> list[float]:
    out = []
    for _ in range(repeat):
        setup()
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pc-img-bench-"))
    try:
        run(work, opts.size_mb, opts.layers, opts.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, size_mb: int, n_layers: int, repeat: int) -> None:
    os.environ["PYCOMPOSE_ROOT"] = str(work / "build-root")
    ctx = make_context(work, size_mb, n_layers)
    spec = im.BuildSpec(context=ctx, tags=("bench:1",))
    t0 = time.perf_counter()
    image = im.build(spec)
    first = time.perf_counter() - t0
    rebuilds = timed(lambda: im.build(spec), max(repeat, 5), lambda: None)
    with registry(work) as host:
        ref = f"{host}/bench/img:1"
        t0 = time.perf_counter()
        im.push(ref, source="bench:1")
        push_s = time.perf_counter() - t0
        total = sum(os.path.getsize(p) for p in (work / "registry").rglob("data"))
        pull_root = work / "pull-root"
        oci_dir = work / "oci"

        def fresh_pull_root() -> None:
            shutil.rmtree(pull_root, ignore_errors=True)
            pull_root.mkdir()
            os.environ["PYCOMPOSE_ROOT"] = str(pull_root)

        def fresh_oci() -> None:
            shutil.rmtree(oci_dir, ignore_errors=True)

        ours = timed(lambda: im.pull(ref), repeat, fresh_pull_root)
        theirs = timed(lambda: subprocess.run(
            ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
             f"oci:{oci_dir}:x"], check=True), repeat, fresh_oci)
    mb = total / 1e6
    print(f"python: {sys.executable}; image {image.short_id}: {n_layers + 2} layers, "
          f"{mb:.1f} MB in the registry; {repeat} runs each, median shown")
    print(f"{'pull (loopback registry)':34} {'seconds':>8} {'MB/s':>8}")
    for name, runs in (("pycompose pull (+unpack)", ours), ("skopeo copy → oci: layout", theirs)):
        med = statistics.median(runs)
        print(f"{name:34} {med:8.3f} {mb / med:8.1f}")
    print(f"pycompose push: {push_s:.3f} s ({mb / push_s:.1f} MB/s)")
    print(f"first build: {first:.3f} s; cached rebuild: median "
          f"{statistics.median(rebuilds) * 1000:.1f} ms (max {max(rebuilds) * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
