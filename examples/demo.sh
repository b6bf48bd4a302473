#!/usr/bin/env bash
# The README demo: set this machine up, then show the hello stack.
# (Until the engine lands, this shows the loaded project and its dependency graph.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
PC=.venv/bin/pycompose
STACK=examples/stacks/hello/compose.yaml

echo "== pycompose config: the normalized project"
$PC -f "$STACK" config
echo
echo "== pycompose graph: start order and the conditions that gate it"
$PC -f "$STACK" graph
