"""Embedded DNS latency and throughput, measured from inside a sandbox (network namespace).

Run as root:  .venv/bin/python bench/dns_bench.py [--seconds 3] [--queries 5000]

Sets up a private state root, one network and two sandboxes (a 3-replica service "svc" plus the
client), then runs the client in a separate process inside the client's netns (nsenter), so the
daemon and the client each get a core. Reports, for A queries of a local name:
- latency: one query at a time (p50/p99 of send -> reply, as the client sees it)
- throughput: a window of 64 outstanding queries for --seconds
with the daemon's answer cache on (default) and off (every answer rendered by dnspython).
Nothing is sent to real resolvers (upstream is pointed at a closed loopback port).
Side by side: aardvark-dns (podman's DNS server, Debian package aardvark-dns) when installed,
fed the same records and queried by the same client on the bridge address; docker's embedded
DNS needs dockerd, which is not installed here.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def make_query(name: str, qid: int) -> bytes:
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return header + labels + b"\x00" + struct.pack(">HH", 1, 1)


def client(name: str, queries: int, seconds: float, server: tuple[str, int]) -> dict[str, float]:
    """Runs inside the netns: sequential latency, then windowed throughput."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(server)
    sock.settimeout(2)
    lat = []
    for i in range(queries):
        q = make_query(name, i & 0xFFFF)
        t0 = time.perf_counter()
        sock.send(q)
        reply = sock.recv(2048)
        lat.append(time.perf_counter() - t0)
        assert reply[:2] == q[:2] and struct.unpack(">H", reply[6:8])[0] == 3, "bad answer"
    lat.sort()
    sock.setblocking(False)
    window, outstanding, answered, lost = 64, 0, 0, 0
    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < deadline:
        while outstanding < window:
            sock.send(make_query(name, (answered + outstanding) & 0xFFFF))
            outstanding += 1
        ready, _, _ = select.select([sock], [], [], 0.5)
        if not ready:  # datagrams lost: count them and refill the window
            lost += outstanding
            outstanding = 0
            continue
        while True:
            try:
                reply = sock.recv(2048)
            except BlockingIOError:
                break
            if struct.unpack(">H", reply[6:8])[0] == 3:  # a real 3-address answer
                answered += 1
            outstanding -= 1
    elapsed = time.perf_counter() - t0
    return {"p50_ms": lat[len(lat) // 2] * 1e3, "p99_ms": lat[int(len(lat) * 0.99)] * 1e3,
            "qps": answered / elapsed, "lost": lost}


def pick_subnet() -> str:
    from engine.networks import link

    taken = link.host_route_networks()
    for _ in range(500):
        net = ipaddress.ip_network(f"10.213.{random.randrange(1, 255)}.0/24")
        if not any(t.version == 4 and net.overlaps(t) for t in taken):
            return str(net)
    raise SystemExit("no free subnet")


def run(cache: bool, queries: int, seconds: float, aardvark: bool = False
        ) -> dict[str, float]:
    os.environ["PYCOMPOSE_ROOT"] = tempfile.mkdtemp(prefix="pycompose-dnsbench-")
    os.environ["PYCOMPOSE_DNS_UPSTREAMS"] = "127.0.0.1:9"
    os.environ["PYCOMPOSE_DNSD_CACHE"] = "50000" if cache else "0"
    import engine.networks as N
    from engine.naming import new_id

    net = N.create_network(N.NetworkSpec(name="dnsbench", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=pick_subnet()),))))
    config: list[str] = [str(net.gateway4)]
    aardvark_dir = Path(tempfile.mkdtemp(prefix="aardvark-bench-"))
    try:
        for i in range(3):
            cid = new_id()
            N.create_sandbox(cid)
            ep = N.connect(cid, net.name, N.EndpointSpec(dns_names=(f"svc-{i}", "svc")))
            config.append(f"{cid} {ep.ipv4}  svc-{i},svc")
        me = new_id()
        path = N.create_sandbox(me)
        ep = N.connect(me, net.name, N.EndpointSpec(dns_names=("client",)))
        config.append(f"{me} {ep.ipv4}  client")
        server = "127.0.0.11:53"
        if aardvark:
            server = f"{net.gateway4}:{start_aardvark(aardvark_dir, net.name, config)}"
        out = subprocess.run(
            ["nsenter", f"--net={path}", sys.executable, __file__, "--client", "svc",
             "--server", server, "--queries", str(queries), "--seconds", str(seconds)],
            capture_output=True, text=True, check=True)
        return json.loads(out.stdout)  # type: ignore[no-any-return]
    finally:
        stop_aardvark(aardvark_dir)
        N.cleanup_all()


AARDVARK = Path("/usr/lib/podman/aardvark-dns")


def start_aardvark(config_dir: Path, network: str, lines: list[str]) -> int:
    """Podman's DNS server, answering the same records on the bridge address (it serves from
    the host namespace, like podman runs it). Only A queries for names it knows are sent, so it
    never forwards anything to the host's resolvers."""
    (config_dir / network).write_text("\n".join(lines) + "\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run([str(AARDVARK), "--config", str(config_dir), "-p", str(port), "run"],
                   check=True, capture_output=True, timeout=10)
    return port


def stop_aardvark(config_dir: Path) -> None:
    pid_file = config_dir / "aardvark.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().strip()), 15)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--client")
    parser.add_argument("--server", default="127.0.0.11:53")
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if args.client:
        host, port = args.server.rsplit(":", 1)
        print(json.dumps(client(args.client, args.queries, args.seconds, (host, int(port)))))
        return
    print(f"python: {sys.executable} ({sys.version.split()[0]}); client and daemon in separate "
          f"processes; {os.cpu_count()} cores")
    runs = [("pycompose, answer cache on ", True, False),
            ("pycompose, answer cache off", False, False)]
    if AARDVARK.exists():
        runs.append(("aardvark-dns 1.4 (podman)  ", True, True))
    else:
        print("aardvark-dns not installed: no comparison")
    print("docker's embedded DNS: dockerd is not installed here: no comparison")
    for label, cache, aardvark in runs:
        res = run(cache, args.queries, args.seconds, aardvark)
        print(f"{label}: p50 {res['p50_ms']:.3f} ms  p99 {res['p99_ms']:.3f} ms  "
              f"{res['qps']:,.0f} qps (A, 3 replicas; {res['lost']} lost)")


if __name__ == "__main__":
    main()
