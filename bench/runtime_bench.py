"""create + start + exit + delete latency: built-in runtime vs ``runc run`` vs ``crun run``.

All runtimes run the same OCI bundle (busybox rootfs, docker-like config, ``/bin/true``), side
by side in one run. Measured as wall-clock per container, median and p90 over N runs:

* builtin (library): BuiltinRuntime.create/start/waitpid/delete from this process -- what the
  engine's shim does (no interpreter start per container);
* builtin (CLI): ``python -m engine.runtime run`` as a subprocess (interpreter named below);
* runc: ``runc run``;
* crun: ``crun run`` from a child process living in a private mount namespace where the empty
  cgroup v2 mount (/sys/fs/cgroup/unified) is unmounted -- crun rejects hybrid hosts.

Needs root. Usage:
``.venv/bin/python bench/runtime_bench.py [-n 30] [--rounds 3] [--seccomp docker|small|none]``
"""
from __future__ import annotations

import argparse
import ctypes
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

from engine.runtime import BuiltinRuntime  # noqa: E402
from engine.runtime import syscalls as sc  # noqa: E402
from engine.runtime.capabilities import DOCKER_DEFAULT  # noqa: E402
from tests.integration.runtime.bundles import DENY_PROFILE, make_config  # noqa: E402
from tests.support.rootfs import make_busybox_rootfs  # noqa: E402

UNIFIED = "/sys/fs/cgroup/unified"


def seccomp_for(kind: str) -> dict | None:  # type: ignore[type-arg]
    """The seccomp profile to put in the bundle."""
    if kind == "none":
        return None
    if kind == "small":
        return DENY_PROFILE
    from engine.containers.security import seccomp_profile  # docker's default, OCI form

    return seccomp_profile(list(DOCKER_DEFAULT))


def time_runs(n: int, one: Callable[[str], None], prefix: str) -> list[float]:
    """Run ``one(id)`` n times (after one warm-up); return seconds per run."""
    one(f"{prefix}-warm")
    out = []
    for i in range(n):
        t = time.perf_counter()
        one(f"{prefix}-{i}")
        out.append(time.perf_counter() - t)
    return out


def bench_builtin(bundle: Path, state: Path, n: int, rnd: str = "") -> list[float]:
    rt = BuiltinRuntime(root=state / "builtin")
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # subreaper, like the engine's shim
    devnull = os.open(os.devnull, os.O_RDWR)

    def one(cid: str) -> None:
        pid = rt.create(cid, bundle, stdin=devnull, stdout=devnull, stderr=devnull)
        rt.start(cid)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        rt.delete(cid)

    return time_runs(n, one, "bi" + rnd)


def bench_cli(cmd: list[str], bundle: Path, n: int, prefix: str) -> list[float]:
    def one(cid: str) -> None:
        subprocess.run([*cmd, "run", "--bundle", str(bundle), cid], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time_runs(n, one, prefix)


def bench_crun(bundle: Path, state: Path, n: int, rnd: str = "") -> list[float]:
    """Time crun from a forked child that hid the hybrid v2 mount in its own mount ns."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            s = sc.LinuxSyscalls()
            s.unshare(sc.CLONE_NEWNS)
            s.mount("", "/", "", sc.MS_REC | sc.MS_PRIVATE, "")
            s.umount2(UNIFIED, sc.MNT_DETACH)
            times = bench_cli(["crun", "--root", str(state / "crun")], bundle, n, "cr" + rnd)
            os.write(w, json.dumps(times).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data) if data else []


def summary(name: str, times: list[float]) -> str:
    if not times:
        return f"{name:<28} (not run)"
    ms = sorted(t * 1000 for t in times)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return (f"{name:<28} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   "
            f"min {ms[0]:6.1f} ms   (n={len(ms)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--seccomp", choices=("docker", "small", "none"), default="docker")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rtbench-"))
    try:
        bundle = tmp / "bundle"
        make_busybox_rootfs(bundle / "rootfs")
        config = make_config(["/bin/true"], seccomp=seccomp_for(a.seccomp), nofile=20000)
        (bundle / "config.json").write_text(json.dumps(config))
        state = tmp / "state"
        runners: dict[str, Callable[[int, str], list[float]]] = {
            "builtin (library, in-process)": lambda k, r: bench_builtin(bundle, state, k, r),
            "builtin (CLI run)": lambda k, r: bench_cli(
                [sys.executable, "-m", "engine.runtime", "--root", str(state / "cli")],
                bundle, k, "cl" + r),
        }
        if shutil.which("runc"):
            runners["runc run"] = lambda k, r: bench_cli(
                ["runc", "--root", str(state / "runc")], bundle, k, "rc" + r)
        if shutil.which("crun"):
            runners["crun run (private mnt ns)"] = lambda k, r: bench_crun(bundle, state, k, r)
        # Rounds interleave the runtimes so load changes on the host hit all of them alike.
        results: dict[str, list[float]] = {name: [] for name in runners}
        per_round = max(1, a.n // a.rounds)
        for rnd in range(a.rounds):
            for name, run in runners.items():
                results[name] += run(per_round, str(rnd))
        print(f"create+start+exit+delete of /bin/true, busybox rootfs, seccomp={a.seccomp}, "
              f"kernel {os.uname().release}, {os.cpu_count()} cpus")
        print(f"CLI interpreter: {sys.executable} (python {sys.version.split()[0]})")
        for name, times in results.items():
            print(summary(name, times))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
