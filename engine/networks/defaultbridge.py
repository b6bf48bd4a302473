"""The host-wide default bridge network, docker's ``bridge`` (docker0): used by containers
with ``network_mode: bridge`` and by image build steps (RUN) by default.

Created on first use (its subnet chosen by IPAM away from the host's routes), shared by every
project and build, and removed once no endpoint is left on it, so that nothing of pycompose
stays on the host. Like docker's default bridge, it has no embedded DNS: containers on it get
the host's resolvers and no names.
"""
from __future__ import annotations

import logging
import time

from engine.errors import Conflict, EngineError, NotFound
from engine.networks import state
from engine.networks.model import NetworkSpec
from engine.networks.network import create_network, inspect_network, network_exists
from engine.networks.network import remove_network as _remove_network
from engine.networks.sandbox import endpoints

log = logging.getLogger(__name__)

DEFAULT_BRIDGE = "bridge"
DEFAULT_BRIDGE_LABEL = "io.pycompose.default-bridge"


def ensure_default_bridge() -> None:
    """Create the default bridge unless it exists (losing a creation race is fine), and
    return once it is ready: two containers of one ``up`` meet here at the same moment, and
    the second must not attach before the first has made the bridge and its rules."""
    if not network_exists(DEFAULT_BRIDGE):
        try:
            create_network(NetworkSpec(name=DEFAULT_BRIDGE,
                                       labels={DEFAULT_BRIDGE_LABEL: "true"}))
            return
        except EngineError:
            if not network_exists(DEFAULT_BRIDGE):
                raise
    _wait_ready(DEFAULT_BRIDGE)


def _wait_ready(name: str, within: float = 10.0) -> None:
    """Wait while another thread or live process is still creating network ``name`` (a
    creator that died leaves the row for connect's restore)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = state.find_network(state.db(), name)
        if row is None or row["state"] == state.READY or not row["pid"] \
                or not state.pid_alive(row["pid"]):
            return
        time.sleep(0.01)


def release_default_bridge() -> bool:
    """Remove the default bridge once no endpoint is left on it; True if it was removed.
    A network some user named ``bridge`` themselves is never touched."""
    if not network_exists(DEFAULT_BRIDGE):
        return False
    if inspect_network(DEFAULT_BRIDGE).spec.labels.get(DEFAULT_BRIDGE_LABEL) != "true":
        return False
    if endpoints(network=DEFAULT_BRIDGE):
        return False
    try:
        _remove_network(DEFAULT_BRIDGE)
    except (Conflict, NotFound):  # someone joined meanwhile, or removed it first
        return False
    log.info("removed the unused default bridge network")
    return True
