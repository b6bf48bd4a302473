#!/bin/sh
# Runs in the cgroup v2 test machine as PID 1 (started by init.sh): prepares the guest, runs the
# selected tests of this checkout with the checkout's own virtualenv, writes JUnit XML and the
# exit code to the share, and powers off. The host's / is read-only here; /tmp is tmpfs.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
S=/mnt/share
. $S/env.sh   # REPO, PYTHON and the test environment, written by the host test
hostname cgv2-guest
ip link set lo up
echo "+cpu +cpuset +io +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
# Load the modules the engine uses up front, as a distribution's boot does: here the kernel's own
# on-demand load from inside an iptables getsockopt (iptable_nat) never returns.
for m in overlay veth bridge br_netfilter iptable_filter iptable_nat iptable_mangle iptable_raw \
         ip6table_filter ip6table_nat xt_conntrack xt_MASQUERADE xt_addrtype xt_comment xt_nat \
         xt_tcpudp xt_mark xt_multiport nf_conntrack_netlink; do
  modprobe -q "$m" || echo "guest: module $m not loaded" >&2
done
# python-iptables runs `ldconfig -N -v` on import to find the xtables plugins unless told where
# they are: a scan of every library directory, minutes over 9p under emulation.
for d in /usr/lib/*/xtables /usr/lib/xtables; do
  [ -d "$d" ] && { export XTABLES_LIBDIR=$d; break; }
done
if [ -n "${PYCOMPOSE_TEST_SCRATCH_DISK:-}" ]; then
  modprobe virtio_blk
  i=0; while [ ! -b "$PYCOMPOSE_TEST_SCRATCH_DISK" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
fi
{ echo "kernel $(uname -r)"; echo "cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
  echo "boot to tests: $(cut -d' ' -f1 /proc/uptime)s"; } > $S/guest-info.txt
cd "$REPO"
# Warm the guest's 9p cache with the modules every engine process imports: a cold shim fork
# server start can outlast its 10 s start timeout under emulation on a loaded host.
"$PYTHON" -S -c "import engine.containers.shimd, engine.runtime, engine.containers" \
  2>/dev/null
"$PYTHON" -c "import compose.cli.main, compose.orchestrator.daemon, engine.networks.dnsd" \
  2>/dev/null
"$PYTHON" -m pytest -p no:cacheprovider -q -rA --durations=8 --basetemp=/tmp/pytest \
  --junitxml=$S/junit.xml $(cat $S/tests.txt) > $S/pytest.txt 2>&1
echo $? > $S/rc
echo "tests done: $(cut -d' ' -f1 /proc/uptime)s" >> $S/guest-info.txt
sync
echo o > /proc/sysrq-trigger
sleep 30
