"""Endpoint setup time: sandbox netns + veth pair + addresses + route + DNS registration.

Run as root:  .venv/bin/python bench/endpoint_bench.py [--count 50]
Uses a private state root and a 10.213.x.0/24 subnet checked against host routes; removes
everything at the end. The DNS daemon is started before timing (its one-time start is reported
separately), as it is in steady state on a host with running stacks.
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pick_subnet() -> str:
    from engine.networks import link

    taken = link.host_route_networks()
    for _ in range(500):
        net = ipaddress.ip_network(f"10.213.{random.randrange(1, 255)}.0/24")
        if not any(t.version == 4 and net.overlaps(t) for t in taken):
            return str(net)
    raise SystemExit("no free subnet")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=10,
                        help="endpoints created by concurrent threads first (as up does)")
    args = parser.parse_args()
    os.environ["PYCOMPOSE_ROOT"] = tempfile.mkdtemp(prefix="pycompose-bench-")
    os.environ.setdefault("PYCOMPOSE_DNS_UPSTREAMS", "127.0.0.1:9")  # never a real resolver
    import engine.networks as N
    from engine.naming import new_id

    net = N.create_network(N.NetworkSpec(name="bench_default", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=pick_subnet()),))))
    try:
        burst, burst_wall = parallel_endpoints(N, net.name, args.parallel)
        warm = new_id()
        t0 = time.perf_counter()
        N.create_sandbox(warm)
        N.connect(warm, net.name, N.EndpointSpec(dns_names=("warm",)))
        first = time.perf_counter() - t0
        sandbox_t, connect_t, total_t, remove_t = [], [], [], []
        for i in range(args.count):
            cid = new_id()
            t0 = time.perf_counter()
            N.create_sandbox(cid)
            t1 = time.perf_counter()
            N.connect(cid, net.name, N.EndpointSpec(dns_names=(f"c{i}", "svc")))
            t2 = time.perf_counter()
            N.remove_sandbox(cid)
            t3 = time.perf_counter()
            sandbox_t.append(t1 - t0)
            connect_t.append(t2 - t1)
            total_t.append(t2 - t0)
            remove_t.append(t3 - t2)
        print(f"python: {sys.executable} ({sys.version.split()[0]}), count={args.count}")
        print(f"{args.parallel} endpoints at once, no DNS daemon yet (like up): wall"
              f" {burst_wall * 1e3:.1f} ms, per endpoint p50 {statistics.median(burst) * 1e3:.1f}"
              f" ms, max {max(burst) * 1e3:.1f} ms")
        print(f"first endpoint incl. DNS daemon start: {first * 1e3:.1f} ms")
        for label, vals in (("create_sandbox (netns + lo)", sandbox_t),
                            ("connect (veth+addr+route+DNS)", connect_t),
                            ("endpoint total", total_t), ("remove_sandbox", remove_t)):
            print(f"{label:32s} p50 {statistics.median(vals) * 1e3:6.2f} ms   "
                  f"p90 {pct(vals, 0.9) * 1e3:6.2f} ms   max {max(vals) * 1e3:6.2f} ms")
    finally:
        N.cleanup_all()


def parallel_endpoints(N: Any, network: str, n: int) -> tuple[list[float], float]:
    """``n`` threads each create a sandbox and connect it while no DNS daemon runs yet (what
    ``up`` does for n services); then remove them all, so the daemon exits again."""
    from engine.naming import new_id

    keys = [new_id() for _ in range(n)]
    times: list[float] = []

    def one(key: str) -> None:
        t0 = time.perf_counter()
        N.create_sandbox(key)
        N.connect(key, network, N.EndpointSpec(dns_names=(key[:12], "burst")))
        times.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, keys))
    wall = time.perf_counter() - t0
    for key in keys:
        N.remove_sandbox(key)
    return times, wall


if __name__ == "__main__":
    main()
