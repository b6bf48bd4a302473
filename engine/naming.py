"""Predictable names for every kernel object the engine creates.

Each name is derived from its owner's id, so ``down`` (or a cleanup after a SIGKILL in the middle
of ``up``) can find and remove everything without a record of what was created. Linux interface
names are limited to 15 bytes, so ids are shortened and prefixed.

All names begin with a prefix that nothing else on a host uses, so a sweep can find leftovers:

- bridges:          ``pcbr-<10 hex of network id>``
- veth (host side): ``pcv<11 hex of sha256(container id + network id)>``
- iptables chains:  ``PYCOMPOSE-*`` (see engine/networks firewall module)
- cgroups:          ``<controller root>/pycompose/<container id>``
- netns bind mounts ``<state root>/netns/<container id>``
"""
from __future__ import annotations

import os

from engine.digest import sha256_hex

BRIDGE_PREFIX = "pcbr-"
VETH_PREFIX = "pcv"
CHAIN_PREFIX = "PYCOMPOSE"
CGROUP_PARENT = "pycompose"


def new_id() -> str:
    """Return a new 64-hex object id, like docker's: never one whose short form is all
    digits (it is the container's default hostname, and a resolver takes an all-digit name
    for a malformed IPv4 address: ``hostname -i`` said "Unknown host" for 1 id in ~280)."""
    while True:
        obj_id = os.urandom(32).hex()  # (what secrets.token_hex does)
        if not obj_id[:12].isdigit():
            return obj_id


def short_id(obj_id: str) -> str:
    """Return the 12-character short form of an id."""
    return obj_id[:12]


def bridge_name(network_id: str) -> str:
    """Return the Linux bridge name for a network."""
    return BRIDGE_PREFIX + network_id[:10]


def veth_name(container_id: str, network_id: str) -> str:
    """Return the host-side veth name for a container's endpoint on a network."""
    digest = sha256_hex(f"{container_id}:{network_id}")
    return VETH_PREFIX + digest[:11]
