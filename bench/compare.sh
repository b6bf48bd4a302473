#!/usr/bin/env bash
# pycompose side by side with docker-compose and podman-compose on the same stacks
# (1, 2, 10 services; 50 in 5 levels; run/exec/ps/--help/config); prints a table with ratios.
#
#   bench/compare.sh [--install-peers] [--no-peers] [--runs N] [--stacks 1,2,10,50]
#                    [--pycompose CMD] [--also LABEL=CMD] [--json FILE]
#
# --install-peers  installs the peers first (never done by the test suite): Debian's docker.io
#                  (dockerd 20.10), docker-compose (1.29) and podman (4.3), and podman-compose
#                  from PyPI in its own venv ($PEERS/podman-compose).
# Peers that are installed are used: dockerd is started by this script with its own socket,
# data root and exec root, --iptables=false, --ip-forward=false and --bridge=none (the host's
# firewall, forwarding and links stay untouched; no published ports are benchmarked; no
# docker0), and stopped by PID at the end;
# podman runs with its own storage, runc, and a containers.conf whose default nofile and nproc
# ulimits are accepted without CAP_SYS_RESOURCE. The host's FORWARD policies are checked before
# and after and restored if they changed; CNI's leftovers (chains, cni-podman0) are removed. Needs root. The pycompose tree is byte-compiled first (the environment may set
# PYTHONDONTWRITEBYTECODE, which would make every run compile from source).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PEERS="${PYCOMPOSE_BENCH_PEERS:-/opt/pycompose-bench}"
PODMAN_COMPOSE_VERSION=1.6.0
INSTALL=0
TOOLS="pycompose,docker-compose,podman-compose"
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --install-peers) INSTALL=1 ;;
    --no-peers) TOOLS=pycompose ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done

say() { echo "compare: $*" >&2; }

install_peers() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
    docker.io docker-compose podman >/dev/null
  if [ ! -x "$PEERS/podman-compose/bin/podman-compose" ]; then
    /usr/bin/python3 -m venv "$PEERS/podman-compose"
    "$PEERS/podman-compose/bin/pip" install -q --disable-pip-version-check \
      "podman-compose==$PODMAN_COMPOSE_VERSION"
  fi
}

WORK="$(mktemp -d /tmp/pcbench-peers-XXXXXX)"
DOCKERD_PID=""
FORWARD_BEFORE="$(iptables -S FORWARD 2>/dev/null | head -n1 || true)"
FORWARD_LEGACY_BEFORE="$(iptables-legacy -S FORWARD 2>/dev/null | head -n1 || true)"

# podman 4.3 here uses CNI, which leaves its FORWARD chains, the default bridge and IPAM
# directories behind: note what exists now, remove afterwards only what appeared.
had() { "$@" >/dev/null 2>&1 && echo 1 || echo 0; }
CNI_CHAINS_BEFORE="$(had iptables -S CNI-FORWARD)"
CNI_BRIDGE_BEFORE="$(had ip link show cni-podman0)"
CNI_NETS_BEFORE="$(ls /var/lib/cni/networks 2>/dev/null || true)"

remove_cni_leftovers() {
  if [ "$CNI_CHAINS_BEFORE" = 0 ] && iptables -S CNI-FORWARD >/dev/null 2>&1; then
    iptables -D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
    iptables -F CNI-FORWARD && iptables -X CNI-FORWARD
    iptables -F CNI-ADMIN && iptables -X CNI-ADMIN
  fi
  if [ "$CNI_BRIDGE_BEFORE" = 0 ] && ip link show cni-podman0 >/dev/null 2>&1; then
    ip link del cni-podman0
  fi
  local net
  for net in $(ls /var/lib/cni/networks 2>/dev/null || true); do
    grep -qx "$net" <<<"$CNI_NETS_BEFORE" || rm -rf "/var/lib/cni/networks/$net"
  done
}

restore_forward() {  # put back "-P FORWARD <policy>" if a peer changed it
  local tool="$1" before="$2" now
  [ -n "$before" ] || return 0
  now="$("$tool" -S FORWARD 2>/dev/null | head -n1 || true)"
  if [ "$now" != "$before" ]; then
    say "$tool FORWARD policy changed ($before -> $now): restoring"
    "$tool" -P FORWARD "${before##* }"
  fi
}

cleanup() {
  set +e
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill -TERM "$DOCKERD_PID"
    for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && kill -KILL "$DOCKERD_PID"
  fi
  if command -v podman >/dev/null && [ -f "$WORK/storage.conf" ]; then
    CONTAINERS_STORAGE_CONF="$WORK/storage.conf" CONTAINERS_CONF="$WORK/containers.conf" \
      podman system reset -f >/dev/null 2>&1
  fi
  remove_cni_leftovers
  restore_forward iptables "$FORWARD_BEFORE"
  restore_forward iptables-legacy "$FORWARD_LEGACY_BEFORE"
  # anything still mounted under the work directory (a peer's overlay) goes before the files
  findmnt -rn -o TARGET | grep "^$WORK" | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

start_dockerd() {
  command -v dockerd >/dev/null && command -v docker-compose >/dev/null || return 0
  mkdir -p "$WORK/docker-data" "$WORK/docker-exec"
  dockerd --host "unix://$WORK/docker.sock" --data-root "$WORK/docker-data" \
    --exec-root "$WORK/docker-exec" --pidfile "$WORK/docker.pid" \
    --iptables=false --ip-forward=false --ip6tables=false --bridge=none \
    >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$WORK/docker.sock"
  for _ in $(seq 1 150); do
    /usr/bin/docker info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
  done
  say "dockerd did not come up (log: $(tail -n 3 "$WORK/dockerd.log"))"
  unset DOCKER_HOST
}

setup_podman() {
  command -v podman >/dev/null || return 0
  local nofile
  nofile="$(ulimit -Hn)"
  # nproc: podman's default (and the host's hard limit, 96363 here) is refused by the OCI
  # runtime without CAP_SYS_RESOURCE; 4096 is plenty for these stacks. runc: crun refuses
  # hybrid cgroup hosts; cgroupfs and file events: no systemd here.
  cat >"$WORK/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
  cat >"$WORK/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$WORK/podman-root"
runroot = "$WORK/podman-run"
EOF
  export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"
  if [ -x "$PEERS/podman-compose/bin/podman-compose" ]; then
    export PODMAN_COMPOSE="$PEERS/podman-compose/bin/podman-compose"
  fi
}

[ "$INSTALL" = 1 ] && install_peers
if [ "$TOOLS" != pycompose ]; then
  start_dockerd
  setup_podman
fi
"$REPO/.venv/bin/python" -m compileall -q -j0 "$REPO/compose" "$REPO/engine" "$REPO/schema" \
  >/dev/null
"$REPO/.venv/bin/python" -m engine.dataclass_cache >/dev/null  # compiled dataclass methods, likewise
"$REPO/.venv/bin/python" "$REPO/bench/compare.py" --tools "$TOOLS" "${ARGS[@]}"
