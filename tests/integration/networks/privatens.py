"""A private network namespace that looks like a host: loopback, an "uplink" with an address
(``eth0``, one end of a veth pair: this kernel has no dummy driver), sysfs of its own -- and
optionally docker's firewall set-up (what dockerd
20.10, started first, writes through iptables-nft: ``filter FORWARD`` policy DROP, its chains,
a ``docker0`` bridge with one container and one published port).

Used to run the network tests on a host-wide setting that must not touch the real host: the
nftables backend's table and docker's DROP policy then exist only in this namespace.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

UPLINK = "10.217.255.1/24"  # the namespace's "host address" (test_ports' host_address)
DOCKER_NET = "10.218.0.0/24"
DOCKER_GW = "10.218.0.1"
DOCKER_CTR = "10.218.0.2"
DOCKER_PUBLISHED = 18081  # docker's published port: host 18081 -> DOCKER_CTR:80

# A sysfs of the new namespace, of which only the network parts replace the host's: mounting
# it over /sys would hide the cgroup hierarchies (containers need them).
BASE = f"""
set -e
mount -t sysfs sysfs "$SYSFS"
mount --bind "$SYSFS/class/net" /sys/class/net
mount --bind "$SYSFS/devices/virtual/net" /sys/devices/virtual/net
ip link set lo up
ip link add eth0 type veth peer name uplink-peer
ip link set uplink-peer up
ip addr add {UPLINK} dev eth0
ip link set eth0 up
"""

# dockerd 20.10 (Debian 12's docker.io) on a host with forwarding off: it turns
# net.ipv4.ip_forward on and sets the FORWARD policy to DROP; docker0 + one running container
# publishing port 80 as 18081.
_DOCKER_DNAT = (f"-A DOCKER ! -i docker0 -p tcp -m tcp --dport {DOCKER_PUBLISHED} -j DNAT "
                f"--to-destination {DOCKER_CTR}:80")
DOCKER_RULES = f"""*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s {DOCKER_NET} ! -o docker0 -j MASQUERADE
-A POSTROUTING -s {DOCKER_CTR}/32 -d {DOCKER_CTR}/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
{_DOCKER_DNAT}
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER -d {DOCKER_CTR}/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
COMMIT
"""

DOCKER = f"""
echo 1 > /proc/sys/net/ipv4/ip_forward
ip link add docker0 type bridge
ip addr add {DOCKER_GW}/24 dev docker0
ip link set docker0 up
iptables-nft-restore <<'EOF'
{DOCKER_RULES}EOF
"""


# The real dockerd (Debian's docker.io) started first in the namespace, with forwarding off as
# on a fresh host, its own data root, exec root and socket, and docker0 on DOCKER_NET; then
# the rules docker adds when a container publishes port 80 as DOCKER_PUBLISHED (the container
# itself is made by test_docker_alongside). Stopped by pid when the command ends.
DOCKERD = f"""
echo 0 > /proc/sys/net/ipv4/ip_forward
DOCKERD_DIR=$(mktemp -d /tmp/pcdk.XXXXXX)  # short: containerd's socket paths must fit
/usr/sbin/dockerd --host "unix://$DOCKERD_DIR/docker.sock" --data-root "$DOCKERD_DIR/data" \
    --exec-root "$DOCKERD_DIR/exec" --pidfile "$DOCKERD_DIR/docker.pid" --iptables=true \
    --bip {DOCKER_GW}/24 >"$DOCKERD_DIR/dockerd.log" 2>&1 &
DOCKERD_PID=$!
trap 'kill "$DOCKERD_PID"; wait "$DOCKERD_PID"; cp "$DOCKERD_DIR/dockerd.log" "$WORKDIR/"; \
rm -rf "$DOCKERD_DIR"' EXIT
i=0
until grep -q "API listen on" "$DOCKERD_DIR/dockerd.log"; do  # its networks are set up
    i=$((i + 1)); [ $i -lt 300 ] || {{ echo "dockerd did not start"; exit 3; }}; sleep 0.1
done
"""


def _dockerd_script() -> str:
    nat = [line for line in DOCKER_RULES.split("*filter")[0].splitlines() if "--dport" in line]
    filt = [line for line in DOCKER_RULES.split("*filter")[1].splitlines() if "--dport" in line]
    rules = [f"iptables-nft -t nat {line}" for line in nat]
    rules += [f"iptables-nft -t filter {line}" for line in filt]
    return DOCKERD + "\n".join(rules) + "\n"


def command(argv: list[str], workdir: Path, *, docker: str = "") -> list[str]:
    """``argv`` run in a new network + mount namespace set up as above (``workdir``: an empty
    directory for the namespace's own files). ``docker``: "" (none), "rules" (docker's rule
    set reproduced) or "dockerd" (the real one started first)."""
    sysfs = workdir / "sysfs"
    sysfs.mkdir()
    script = f"SYSFS={sysfs}\nWORKDIR={workdir}\n" + BASE
    if docker == "rules":
        script += DOCKER + 'exec "$@"\n'
    elif docker == "dockerd":
        script += _dockerd_script() + (
            'set +e\n"$@"\nexit $?\n')  # the EXIT trap stops dockerd
    else:
        script += 'exec "$@"\n'
    return ["unshare", "--net", "--mount", "--propagation", "private",
            "sh", "-c", script, "sh", *argv]


def run_pytest(paths: list[str], env: dict[str, str], workdir: Path, *, docker: str = "",
               timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs", *paths]
    return subprocess.run(command(argv, workdir, docker=docker), cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=timeout)
