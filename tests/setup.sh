#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root) for pycompose: system packages and a virtualenv
# with pycompose installed (editable) plus its test tools. Idempotent; fast when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  python3 python3-venv python3-dev gcc   # interpreter (the system one starts fastest) and builds
  iptables iproute2                      # python-iptables needs libiptc/libxtables from iptables
  nftables                               # libnftables1 (nftables backend) and nft for its tests
  libseccomp2                            # pyseccomp loads libseccomp at run time
  busybox-static                         # base of the example and test images
  debootstrap                            # Debian base image for the application example
  docker-registry skopeo                 # a real registry on loopback and an independent client
  runc crun                              # peer runtimes: compatibility tests and benchmarks
  tini                                   # init: true (a reaping PID 1, bind-mounted like docker-init)
  procps psmisc util-linux               # ps, fuser, nsenter, findmnt for tests and leak checks
  qemu-system-x86 linux-image-amd64 cpio # the cgroup v2 test machine (tests/cgv2)
  uidmap passt slirp4netns fuse-overlayfs # rootless: subordinate id maps, outbound network, overlay fallback
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  /usr/bin/python3 -m venv .venv
fi
# editable_mode=compat: a plain path entry in a .pth file. The default (an import-hook finder)
# costs every interpreter start-up ~10 ms (pathlib, importlib.util), which the CLI, the supervisor
# and the DNS daemon would each pay. A venv made with the finder is reinstalled once.
if ! .venv/bin/python -c "import compose, engine, pytest, hypothesis" 2>/dev/null \
   || [ pyproject.toml -nt .venv/.installed ] || [ tests/constraints.txt -nt .venv/.installed ] \
   || compgen -G '.venv/lib/python3*/site-packages/__editable___pycompose_*_finder.py' >/dev/null; then
  # pip's build backend is chatty even with -q: keep its output unless the install fails.
  .venv/bin/pip install -q --disable-pip-version-check -c tests/constraints.txt \
    --config-settings editable_mode=compat -e '.[test]' >.venv/pip.log 2>&1 \
    || { cat .venv/pip.log; exit 1; }
  # Bytecode for the dependencies even where PYTHONDONTWRITEBYTECODE is set (else every
  # process compiles python-iptables and friends from source on each start).
  .venv/bin/python -m compileall -q -j0 .venv/lib/python3*/site-packages >/dev/null 2>&1 || true
  touch .venv/.installed
fi
# Compiled dataclass methods and regular expressions (engine/dataclass_cache.py,
# engine/regex_cache.py), written even under PYTHONDONTWRITEBYTECODE like the bytecode above;
# refreshed by every run (~1 s). The patterns compiled on first use, and the parsed schema
# (schema/__init__.py), come from one `config`.
.venv/bin/python -m engine.regex_cache >/dev/null
PYTHONDONTWRITEBYTECODE= .venv/bin/pycompose -f examples/stacks/app/compose.yaml config \
  >/dev/null 2>&1 || true
# Bytecode of pycompose's own modules, as an installed package has: where
# PYTHONDONTWRITEBYTECODE is set, every command would otherwise compile them from source
# (~40 ms of a `config` with no engine running). Only changed files are compiled again.
.venv/bin/python -m compileall -q -j0 compose engine >/dev/null
