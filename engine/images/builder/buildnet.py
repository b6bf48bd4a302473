"""The NATed bridge network RUN steps of one build share (docker gives RUN a NATed network
by default): made on the first RUN that needs it, removed when the build ends. A build killed
midway leaves one behind; the next build removes those whose builder process is gone."""
from __future__ import annotations

import json
import logging
import os
import threading

from engine.naming import new_id

log = logging.getLogger(__name__)
LABEL = "org.pycompose.build-network"


class BuildNetwork:
    """One build's network, created lazily and thread-safely."""

    def __init__(self) -> None:
        self._name: str | None = None
        self._lock = threading.Lock()

    def name(self) -> str:
        """The network's name, creating it on first use."""
        from engine import networks

        with self._lock:
            if self._name is None:
                sweep_stale()
                name = f"pycompose-build-{new_id()[:12]}"
                networks.create_network(networks.NetworkSpec(
                    name=name, labels={LABEL: str(os.getpid())}))
                self._name = name
            return self._name

    def close(self) -> None:
        """Remove the network if this build made one."""
        from engine import networks

        with self._lock:
            if self._name is not None:
                networks.remove_network(self._name)
                self._name = None


def sweep_stale() -> int:
    """Remove build networks (and their step sandboxes) whose building process died."""
    from engine import networks
    from engine.networks import state

    removed = 0
    for row in state.db().execute("SELECT id, name, spec, pid FROM net_networks").fetchall():
        labels = json.loads(row["spec"]).get("labels") or {}
        owner = labels.get(LABEL)
        if owner is None or not owner.isdigit() or state.pid_alive(int(owner)):
            continue
        for ep in networks.endpoints(network=row["name"]):
            try:
                networks.remove_sandbox(ep.container_id)
            except Exception:  # keep going: the network itself must go
                log.exception("removing stale build sandbox %s", ep.container_id)
        networks.remove_network(row["id"])
        removed += 1
    return removed
