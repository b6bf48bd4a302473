"""Helpers for the end-to-end tests of the example stacks: the Debian base material (prepared
once per machine by examples/images/prepare.sh, cached), the kernel objects a running project
owns, and a check that none of them is left after ``down``."""
from __future__ import annotations

import functools
import json
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.cli import Stack

REPO = Path(__file__).resolve().parents[2]
PREPARE = REPO / "examples" / "images" / "prepare.sh"
PREPARE_TIMEOUT = 900  # a cold debootstrap takes about a minute here; leave room for slow mirrors


@functools.cache
def _prepare_debian() -> tuple[bool, str]:
    """Run prepare.sh once per test process (it is itself cached per machine)."""
    if shutil.which("debootstrap") is None:
        return False, "debootstrap missing (apt-get install debootstrap)"
    proc = subprocess.run(["bash", str(PREPARE), "all"], capture_output=True, text=True,
                          timeout=PREPARE_TIMEOUT, check=False)
    return proc.returncode == 0, proc.stderr


def require_debian_material() -> None:
    """Skip when the machine cannot build the Debian base; fail when preparing it broke."""
    ok, why = _prepare_debian()
    if not ok and "debootstrap missing" in why:
        pytest.skip(why)
    assert ok, f"examples/images/prepare.sh failed:\n{why}"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class KernelObjects:
    """What a running project put into the kernel, named the engine's predictable way."""

    links: frozenset[str]   # bridges and host-side veths
    tags: frozenset[str]    # iptables comments of its networks and containers


def kernel_objects(stack: Stack) -> KernelObjects:
    """The bridges, veths and firewall tags of the project's networks and containers."""
    code = ("import json; from engine import containers, networks; "
            "print(json.dumps({'nets': [n.id for n in networks.list_networks()], "
            "'ctrs': [k for c in containers.list_containers() for k in (c.id, c.name)]}))")
    out = subprocess.run([sys.executable, "-c", code], env=stack.env(), capture_output=True,
                         text=True, check=True).stdout
    ids = json.loads(out)  # endpoints are keyed by whatever the caller connected: id or name
    from engine import naming
    from engine.networks import rules

    links = {naming.bridge_name(n) for n in ids["nets"]}
    links |= {naming.veth_name(c, n) for c in ids["ctrs"] for n in ids["nets"]}
    tags = {rules.network_tag(n) for n in ids["nets"]}
    tags |= {rules.container_tag(c) for c in ids["ctrs"] if len(c) == 64}
    return KernelObjects(frozenset(links), frozenset(tags))


def kernel_leftovers(objs: KernelObjects) -> list[str]:
    """Which of ``objs`` still exist (links on the host, rules in any iptables table)."""
    present = set(Path("/sys/class/net").iterdir())
    left = [f"link {p.name}" for p in present if p.name in objs.links]
    for save in ("iptables-legacy-save", "iptables-nft-save", "ip6tables-legacy-save"):
        if shutil.which(save) is None:
            continue
        dump = subprocess.run([save], capture_output=True, text=True, check=False).stdout
        left += [f"{save}: {ln}" for ln in dump.splitlines()
                 if any(f'"{tag}"' in ln or f" {tag} " in ln for tag in objs.tags)]
    return left
