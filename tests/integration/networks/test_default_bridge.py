"""The host-wide default bridge (network_mode: bridge) when several containers of one ``up``
need it at the same moment."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.root


def test_concurrent_first_users_all_get_a_ready_bridge(state_root: Path) -> None:
    from engine.networks import defaultbridge, link, state
    from engine.networks.network import inspect_network

    barrier = threading.Barrier(4)
    seen: list[tuple[bool, str]] = []
    errors: list[BaseException] = []

    def first_user() -> None:
        try:
            barrier.wait()
            defaultbridge.ensure_default_bridge()
            row = state.find_network(state.db(), defaultbridge.DEFAULT_BRIDGE)
            assert row is not None
            seen.append((link.link_exists(row["bridge"]), row["state"]))
        except BaseException as exc:  # handed to the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=first_user) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        # each caller returned with the bridge made and its rules in place (state ready)
        assert seen == [(True, state.READY)] * 4
    finally:
        bridge = inspect_network(defaultbridge.DEFAULT_BRIDGE).bridge
        assert defaultbridge.release_default_bridge()
    assert not link.link_exists(bridge)
