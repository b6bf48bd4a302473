"""After the last network of every state root is gone, nothing of ours is left in the backend
(legacy iptables: base chains and jumps included; nftables: the ``inet pycompose`` table) nor
in the host's iptables-nft filter table (here made to exist, as docker's would); the next
network brings them back.

Runs in a private network + mount namespace (``unshare``, sysfs remounted) so the host's own
pycompose networks -- other test runs -- cannot keep the base alive and the assertion is exact.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[3]

SCRIPT = r'''
import json, os, subprocess, sys
import engine.networks as N

def lines(argv):
    out = subprocess.run(argv, capture_output=True, text=True)
    return out.stdout.splitlines() if out.returncode == 0 else []

def ours():
    """Our lines in both backends and in the host's iptables-nft filter table."""
    out = lines(["nft", "list", "table", "inet", "pycompose"])
    out += lines(["iptables-legacy", "-S"]) + lines(["iptables-legacy", "-t", "nat", "-S"])
    out += lines(["iptables-nft", "-S"])
    out = [line.strip() for line in out]
    return [line for line in out if "PYCOMPOSE" in line or "pycompose" in line]

def use(root):
    os.environ["PYCOMPOSE_ROOT"] = root

base_a, base_b = sys.argv[1], sys.argv[2]
seen = {}
use(base_a)
net_a = N.create_network(N.NetworkSpec(name="a_net", ipam=N.IpamSpec(
    configs=(N.IpamConfig(subnet="10.217.250.0/24"),))))
N.create_sandbox("ctr-a")
N.connect("ctr-a", "a_net")
N.publish_ports("ctr-a", [N.PortBinding(80, 18080, "127.0.0.1", "tcp")])
use(base_b)
N.create_network(N.NetworkSpec(name="b_net", ipam=N.IpamSpec(
    configs=(N.IpamConfig(subnet="10.217.251.0/24"),))))
seen["both"] = ours()
use(base_a)
N.cleanup_all()
seen["only_b"] = ours()
use(base_b)
N.remove_network("b_net")
seen["none"] = ours()
N.create_network(N.NetworkSpec(name="b_again", ipam=N.IpamSpec(
    configs=(N.IpamConfig(subnet="10.217.252.0/24"),))))
seen["again"] = ours()
# a crashed state root: its rules stay, its bridge is gone (e.g. deleted by hand)
use(base_a)
crashed = N.create_network(N.NetworkSpec(name="a_crash", ipam=N.IpamSpec(
    configs=(N.IpamConfig(subnet="10.217.253.0/24"),))))
subprocess.run(["ip", "link", "del", crashed.bridge], check=True)
use(base_b)
N.remove_network("b_again")
seen["orphans"] = ours()
# up with one backend, down with the other (PYCOMPOSE_FIREWALL changed in between)
from engine.networks import firewall
N.create_network(N.NetworkSpec(name="b_switch", ipam=N.IpamSpec(
    configs=(N.IpamConfig(subnet="10.217.254.0/24"),))))
seen["before_switch"] = ours()
other = {"iptables": "nftables", "nftables": "iptables"}[os.environ["PYCOMPOSE_FIREWALL"]]
os.environ["PYCOMPOSE_FIREWALL"] = other
firewall._chosen.clear()
N.cleanup_all()
seen["switched"] = ours()
print(json.dumps(seen))
'''


@pytest.mark.skipif(shutil.which("unshare") is None, reason="util-linux unshare missing")
@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_last_network_removal_removes_base_chains_and_jumps(tmp_path: Path,
                                                            backend: str) -> None:
    if backend == "nftables" and shutil.which("nft") is None:
        pytest.skip("nft missing")
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        root.mkdir()
    env = {"PYCOMPOSE_DNS_UPSTREAMS": "127.0.0.1:9", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "PYCOMPOSE_FIREWALL": backend}
    # the host's iptables-nft filter table with its FORWARD chain exists, as with docker
    cmd = ["unshare", "--net", "--mount", "--propagation", "private", "sh", "-c",
           'mount -t sysfs sysfs /sys && ip link set lo up && iptables-nft -P FORWARD ACCEPT && '
           'exec "$@"', "sh",
           sys.executable, "-c", SCRIPT, *map(str, roots)]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.splitlines()[-1])
    nft = backend == "nftables"
    chain = "chain PYCOMPOSE-{} {{" if nft else "-N PYCOMPOSE-{}"
    assert any(chain.format("FORWARD") in line for line in seen["both"])
    assert any("pycompose:ctr:" in line for line in seen["both"])
    assert "-A DOCKER-USER" not in str(seen["both"])  # no DOCKER-USER here: jump from FORWARD
    assert any(line.startswith("-A FORWARD") and line.endswith("-j PYCOMPOSE-ALLOW")
               for line in seen["both"])
    # root b's network still needs the base: only root a's own rules went
    assert chain.format("DNAT") in seen["only_b"]
    assert chain.format("ISOLATION-2") in seen["only_b"]
    assert not any("pycompose:ctr:" in line for line in seen["only_b"])
    assert seen["none"] == []  # no chain, no jump from FORWARD/PREROUTING/OUTPUT/POSTROUTING
    if nft:
        assert 'jump PYCOMPOSE-FORWARD comment "pycompose:base"' in seen["again"]
        assert 'jump PYCOMPOSE-POSTROUTING comment "pycompose:base"' in seen["again"]
    else:
        assert any(line.startswith("-A FORWARD") for line in seen["again"])
        assert any(line.startswith("-A POSTROUTING") for line in seen["again"])
    assert any("PYCOMPOSE-ALLOW" in line for line in seen["again"])
    assert seen["orphans"] == []
    assert any("pycompose:net:" in line for line in seen["before_switch"])
    assert seen["switched"] == []  # down with the other backend still removed everything
    assert _processes_using(roots) == []  # no DNS daemon outlived the namespace's last user


def _processes_using(roots: list[Path]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if any(f"PYCOMPOSE_ROOT={root}".encode() in environ for root in roots):
                found.append(int(entry.name))
    return found
