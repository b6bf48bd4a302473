#!/usr/bin/env bash
# The README demo: set this machine up, then bring the hello stack up, show service discovery by
# name (and the isolation of a second network), show the health-gated start order, take it down.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh
bash examples/images/prepare.sh busybox

STACK=examples/stacks/hello/compose.yaml
pc() { .venv/bin/pycompose --progress plain -f "$STACK" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() { pc down -v --remove-orphans >/dev/null 2>&1 || true; }
trap cleanup EXIT

step "The stack and what gates each start (pycompose graph)"
pc graph

step "Build the busybox base image from Debian's busybox-static (cached after the first run)"
pc build

links() { ip -br link | awk '$1 ~ /^pc(br-|v)/ {sub(/@.*/, "", $1); print $1}' | sort; }
before="$(links)"

step "Bring it up: client may start only once web is healthy (pycompose up -d --timings)"
pc up -d --timings
ours="$(comm -13 <(echo "$before") <(links))"

step "Wait for the one-shot client and outsider to finish (pycompose wait)"
pc wait client outsider

step "What they saw (pycompose logs client outsider)"
pc logs --no-color client outsider

step "Discovery from inside web's network: the alias www and the service name (pycompose exec)"
pc exec -T web nslookup www 127.0.0.11 | sed -n '/^Name:/,$p'
echo "GET http://www/ from web -> $(pc exec -T web wget -qO- http://www/)"

step "The stack (pycompose ps -a)"
pc ps -a

step "Take it down (pycompose down -v)"
pc down -v
trap - EXIT

step "Nothing left behind"
root="${PYCOMPOSE_ROOT:-/var/lib/pycompose}"
left="$(comm -12 <(echo "$ours") <(links); findmnt -rn -o TARGET | grep -F "$root/" || true)"
if [ -n "$left" ]; then echo "left over:"; echo "$left"; exit 1; fi
echo "the stack's $(echo "$ours" | grep -c .) bridges and veths are gone, and no mount remains under $root"
