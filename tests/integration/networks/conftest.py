"""Fixtures for network integration tests: a private state root, a fake upstream resolver,
helpers to run commands inside sandboxes, and a finalizer that asserts nothing is left."""
from __future__ import annotations

import ipaddress
import os
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.integration.networks.fakedns import FakeUpstream

BUSYBOX = "/bin/busybox"


_handed_out: set[str] = set()


def free_subnet() -> str:
    """A random 10.217.x.0/24 that overlaps no host route and was not handed out before in this
    run (other test runs may create networks at once; the /16 is one other suites don't use)."""
    from engine.networks import link

    taken = link.host_route_networks()
    for _ in range(500):
        net = ipaddress.ip_network(f"10.217.{random.randrange(0, 256)}.0/24")
        if str(net) not in _handed_out and not any(
                t.version == 4 and net.overlaps(t) for t in taken):
            _handed_out.add(str(net))
            return str(net)
    raise RuntimeError("no free test subnet")


def _container_files(path: Path) -> Path:
    """resolv.conf and hosts for a sandbox, written by the engine's own writers."""
    from engine.networks import write_hosts, write_resolv_conf

    files = path.parent / f"{path.name}.etc"
    if not files.exists():
        files.mkdir()
        write_resolv_conf(files / "resolv.conf", use_embedded=True)
        write_hosts(files / "hosts", hostname="sandbox", addresses=[])
    return files


def _wrap(path: Path, cmd: tuple[str, ...]) -> list[str]:
    """Enter the sandbox's netns plus a private mount namespace in which /etc/resolv.conf is
    the container's (so nothing ever asks the host's resolvers)."""
    files = _container_files(path)
    script = (f"mount --bind {files}/resolv.conf /etc/resolv.conf && "
              f"mount --bind {files}/hosts /etc/hosts && exec \"$@\"")
    return ["nsenter", f"--net={path}", "unshare", "-m", "--propagation", "private",
            "sh", "-c", script, "sh", *cmd]


def ns_run(path: Path, *cmd: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    """Run a command inside a sandbox's network namespace."""
    return subprocess.run(_wrap(path, cmd), capture_output=True, text=True, timeout=timeout)


def ns_popen(path: Path, *cmd: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(_wrap(path, cmd), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def http_get(path: Path | None, host: str, port: int) -> str:
    """GET / with busybox nc (busybox-static's wget segfaults on this Debian build); returns
    the body, or "" when the connection fails. ``path`` None runs on the host."""
    script = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | {BUSYBOX} nc -w 3 {host} {port}"
    if path is None:
        out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=10)
    else:
        out = ns_run(path, "sh", "-c", script)
    # text mode turned CRLF into LF
    return out.stdout.split("\n\n", 1)[1] if "\n\n" in out.stdout else ""


@dataclass
class NetEnv:
    root: Path
    upstream: FakeUpstream
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)
    veths: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    def spawn(self, path: Path, *cmd: str) -> subprocess.Popen[bytes]:
        proc = ns_popen(path, *cmd)
        self.procs.append(proc)
        return proc


def firewall_text() -> str:
    """Every rule in the active backend's tables (iptables-save / nft syntax)."""
    from engine.networks import firewall

    if firewall.backend_name() == "nftables":
        return _run_text(["nft", "list", "table", "inet", "pycompose"])
    return _run_text(["iptables-legacy-save"])


def host_chain_text() -> str:
    """The host's iptables-nft filter table (where docker's rules live), "" without one."""
    return _run_text(["iptables-nft-save", "-t", "filter"])


def _run_text(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else ""


PRIVATE_NETNS = os.environ.get("PYCOMPOSE_TEST_PRIVATE_NETNS", "")


def ours_anywhere() -> list[str]:
    """Every trace of pycompose in every backend (legacy, nftables, the host's iptables-nft
    table). Exact only where nobody else works: in the private namespace of test_backends."""
    found = [f"legacy: {line}" for line in _run_text(["iptables-legacy-save"]).splitlines()
             if "PYCOMPOSE" in line or "pycompose" in line]
    found += [f"nft: {line}" for line in _run_text(["nft", "list", "tables"]).splitlines()
              if "pycompose" in line]
    found += [f"iptables-nft: {line}" for line in _run_text(["iptables-nft-save"]).splitlines()
              if "PYCOMPOSE" in line or "pycompose" in line]
    return found


def leftovers(env: NetEnv) -> list[str]:
    """Kernel objects of this test that still exist."""
    from engine.networks import dns_control, link
    from engine.networks.firewall import list_tags

    found = [f"link {n}" for n in link.list_links("pc") if n in env.bridges + env.veths]
    out = firewall_text() + host_chain_text()
    found += [f"rule {line}" for line in out.splitlines()
              if any(b in line for b in env.bridges)]
    if PRIVATE_NETNS:
        found += ours_anywhere()
    found += [f"tag {t}" for t in list_tags() if t in env.tags]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line}" for line in mounts.splitlines() if str(env.root) in line]
    if dns_control.daemon_pid() is not None:
        found.append("dns daemon still running")
    return found


@pytest.fixture
def netenv(state_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NetEnv]:
    upstream = FakeUpstream()
    monkeypatch.setenv("PYCOMPOSE_DNS_UPSTREAMS", upstream.address)
    env = NetEnv(state_root, upstream)
    try:
        yield env
    finally:
        from engine.networks import cleanup_all, list_networks

        for proc in env.procs:
            proc.kill()
            proc.wait()
        env.bridges += [n.bridge for n in list_networks()]
        env.veths += [e["host_ifname"] for e in _all_endpoints()]
        env.tags += _our_tags()
        cleanup_all()
        upstream.close()
        left = leftovers(env)
        assert not left, f"left behind: {left}"


def _our_tags() -> list[str]:
    """Firewall owner tags of this test's networks and sandboxes."""
    from engine.networks import rules, state

    conn = state.db()
    return ([rules.network_tag(r[0]) for r in conn.execute("SELECT id FROM net_networks")]
            + [rules.container_tag(r[0]) for r in conn.execute(
                "SELECT container_id FROM net_sandboxes")])


def _all_endpoints() -> list[dict[str, str]]:
    from engine.networks import state

    return [dict(r) for r in state.db().execute("SELECT host_ifname FROM net_endpoints")]


def wait_port(path: Path | None, port: int, proto: str = "tcp") -> None:
    """Wait (event-free, bounded) until something listens on ``port`` in a namespace."""
    import time

    flag = "-ltn" if proto == "tcp" else "-lun"
    cmd = ["ss", flag, f"sport = :{port}"]
    for _ in range(200):
        out = (ns_run(path, *cmd) if path else subprocess.run(cmd, capture_output=True,
                                                               text=True)).stdout
        if f":{port}" in out:
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on {port}")

