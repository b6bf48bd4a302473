"""Rootless vs rootful: ``up -d`` until every container runs, for 1- and 10-service stacks.

Run as root:  .venv/bin/python bench/rootless_bench.py [--sizes 1,10] [--repeat 3]

Rootful runs as root; rootless runs the same compose file as the dedicated test user
``pcrootless`` (created like the rootless test suite does, with its subordinate id ranges),
through ``setpriv``. Each stack is N busybox services (``sleep``), image built once per state
root from the busybox example. Times are the wall clock of the CLI invocations (interpreter:
the checkout's .venv, printed). Every rootless ``up`` is cold: the previous ``down -v`` stopped
the rootless daemon, pause process and pasta, so ``up`` pays for starting them.

Podman rootless (``podman run -d`` per service on one network, as the same user, private
--root/--runroot) is measured beside them when podman is installed.
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

from tests.integration.rootless import user as u  # noqa: E402

IMAGE = "pycompose-examples/busybox:latest"


def compose_file(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  s{i}:", f"    image: {IMAGE}", "    build: ./busybox",
                  """    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]"""]
    return "\n".join(lines) + "\n"


def prepare(work: Path, sizes: list[int]) -> None:
    shutil.copytree(REPO / "examples" / "images" / "busybox", work / "busybox")
    shutil.copy2(shutil.which("busybox") or "/bin/busybox", work / "busybox" / "busybox")
    for n in sizes:
        (work / f"c{n}.yaml").write_text(compose_file(n))


def run(argv: list[str], cwd: Path, env: dict[str, str], user: u.TestUser | None) -> float:
    t0 = time.perf_counter()
    if user is None:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    else:
        proc = u.run_as(user, argv, env=env, cwd=cwd, timeout=600)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def bench_pycompose(work: Path, n: int, repeat: int, user: u.TestUser | None,
                    python: Path) -> list[float]:
    state = work / ("state-user" if user else "state-root")
    env = u.user_env(user, state) if user else {**os.environ, "PYCOMPOSE_ROOT": str(state)}
    cli = [str(python), "-m", "compose.cli.main", "-f", f"c{n}.yaml", "-p", f"rb{n}",
           "--progress", "quiet"]
    run(cli + ["build"], work, env, user)
    times = []
    for _ in range(repeat):
        times.append(run(cli + ["up", "-d"], work, env, user))
        run(cli + ["down", "-v", "-t", "1"], work, env, user)
    return times


def bench_podman(work: Path, n: int, repeat: int, user: u.TestUser) -> str:
    if not shutil.which("podman"):
        return "not installed"
    store = work / "podman"
    for path in (store, store / "run"):
        path.mkdir(mode=0o700, exist_ok=True)
        os.chown(path, user.uid, user.gid)
    env = u.user_env(user, work / "unused")
    env["XDG_RUNTIME_DIR"] = str(store / "run")
    env["HOME"] = str(store)  # podman keeps network configs under ~/.config: keep them here
    pod = ["podman", "--root", str(store / "root"), "--runroot", str(store / "run"),
           "--cgroup-manager", "cgroupfs", "--events-backend", "none"]
    tar = work / "busybox.tar"
    if not tar.exists():
        subprocess.run(["tar", "-C", str(work / "busybox"), "-cf", str(tar), "busybox"],
                       check=True)
        os.chown(tar, user.uid, user.gid)
    try:
        run(pod + ["import", "--change", "CMD sh", str(tar), "pcbench/busybox:1"], work,
            env, user)
        times = []
        for _ in range(repeat):
            run(pod + ["network", "create", f"rb{n}"], work, env, user)
            try:
                t0 = time.perf_counter()
                for i in range(n):
                    run(pod + ["run", "-d", "--cgroups", "disabled", "--name", f"rb{n}-{i}",
                               "--network", f"rb{n}", "pcbench/busybox:1", "/busybox", "sleep",
                               "600"], work, env, user)
                times.append(time.perf_counter() - t0)
            finally:
                u.run_as(user, pod + ["rm", "-f", "-t", "0", "-a"], env=env, cwd=work)
                u.run_as(user, pod + ["network", "rm", "-f", f"rb{n}"], env=env, cwd=work)
        return f"{statistics.median(times):.2f} s"
    except SystemExit as e:
        lines = [line for line in str(e).splitlines() if line.strip()]
        return f"failed: {lines[-1][:120]}"
    finally:
        _stop_podman_pause(store / "run")


def _stop_podman_pause(run_dir: Path) -> None:
    for pid_file in run_dir.rglob("pause.pid"):
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    why = u.missing_capability()
    if why:
        raise SystemExit(f"rootless: {why}")
    pw = u.ensure_account()
    python = REPO / ".venv" / "bin" / "python"
    if not u.can_import(python, None, pw):
        raise SystemExit(f"user {pw.pw_name} cannot read {REPO} (run from a readable checkout)")
    user = u.TestUser(pw.pw_name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir), python, None)
    work = Path(tempfile.mkdtemp(prefix="pcbench-rootless-"))
    try:
        prepare(work, sizes)
        for path in [work, *work.rglob("*")]:
            os.chown(path, user.uid, user.gid, follow_symlinks=False)
        print(f"interpreter: {python} (median of {args.repeat}; up -d until all running)")
        print(f"{'services':>8}  {'rootful':>9}  {'rootless':>9}  podman rootless")
        for n in sizes:
            root = statistics.median(bench_pycompose(work, n, args.repeat, None, python))
            less = statistics.median(bench_pycompose(work, n, args.repeat, user, python))
            print(f"{n:>8}  {root:>7.2f} s  {less:>7.2f} s  "
                  f"{bench_podman(work, n, args.repeat, user)}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
