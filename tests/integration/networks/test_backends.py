"""The network integration tests again, each time in a private network namespace made to look
like another kind of host (privatens.py), so host-wide settings never touch the real host:

- ``nftables``: the native nftables backend (an nft-only host);
- ``iptables+docker`` / ``nftables+docker``: either backend after dockerd has set the
  iptables-nft ``FORWARD`` policy to DROP and written its chains, reproduced
  (test_docker_alongside.py then runs too). ``nftables+docker`` also runs the end-to-end DNS
  and published-port scenarios (``pycompose up``/``down`` of real stacks; ~2 min more);
- ``iptables+dockerd``: the real dockerd (Debian's docker.io, 20.10) started first in the
  namespace with its own data root, exec root and socket (skipped where it is not installed).

Inside, every test's finalizer also asserts that no table, chain or rule of ours is left in any
backend (conftest.ours_anywhere: exact there, since nothing else runs in that namespace).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.integration.networks import privatens

pytestmark = [pytest.mark.root, pytest.mark.slow]

HERE = Path(__file__).resolve().parent
E2E = HERE.parents[1] / "e2e"
SCENARIOS = {
    "nftables": ("nftables", "", ()),
    "iptables+docker": ("iptables", "rules", ()),
    "nftables+docker": ("nftables", "rules", ("test_scenarios_dns.py", "test_scenarios_ports.py")),
    "iptables+dockerd": ("iptables", "dockerd", ()),
}


def _missing(backend: str, docker: str) -> str | None:
    tools = ["unshare", "nft"] + (["iptables-nft-restore"] if docker else [])
    tools += ["/usr/sbin/dockerd"] if docker == "dockerd" else []
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)}"
    if backend == "nftables":
        from engine.networks.firewall import probe

        if not probe.libnftables():
            return "libnftables missing"
    return None


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_network_suite_in_private_netns(scenario: str, tmp_path: Path) -> None:
    backend, docker, e2e = SCENARIOS[scenario]
    why = _missing(backend, docker)
    if why:
        pytest.skip(why)
    env = {**os.environ, "PYCOMPOSE_FIREWALL": backend,
           "PYCOMPOSE_TEST_PRIVATE_NETNS": scenario}
    env.pop("PYTEST_ADDOPTS", None)
    paths = [str(HERE), f"--ignore={HERE / 'test_backends.py'}",
             f"--ignore={HERE / 'test_firewall_teardown.py'}", *(str(E2E / f) for f in e2e)]
    proc = privatens.run_pytest(paths, env, tmp_path, docker=docker)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, tail
    summary = proc.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, tail
    skipped = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    if docker:  # the docker checks ran: the namespace has docker's rule set
        assert not any("test_docker_alongside" in line for line in skipped), skipped
