"""engine.networks.dellink: links deleted together through a device group, in namespaces of
the test's own (the host's links are never touched)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.networks import dellink, link, netns
from engine.networks.rtnl import Rtnl

pytestmark = pytest.mark.root

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def spaces(tmp_path: Path) -> Iterator[tuple[Path, list[Path]]]:
    """A namespace for the host ends, and one per peer (each peer's "container")."""
    host = tmp_path / "host"
    peers = [tmp_path / f"c{i}" for i in range(8)]
    made = []
    try:
        for path in (host, *peers):
            netns.create_netns(path, netns.set_lo_up)
            made.append(path)
        yield host, peers
    finally:
        for path in made:
            netns.remove_netns(path)


def ip(ns: Path, *args: str) -> str:
    return subprocess.run(["nsenter", f"--net={ns}", "ip", *args], check=True,
                          capture_output=True, text=True).stdout


def veths(host: Path, peers: list[Path]) -> list[str]:
    """A veth pair per peer namespace: ``vh<i>`` in ``host`` (a port of bridge ``br0``, as a
    container's), ``eth0`` in the peer."""
    names = [f"vh{i}" for i in range(len(peers))]

    def make() -> None:
        with Rtnl() as rtnl:
            if link.link_index("br0") is None:
                rtnl.add_link("br0", "bridge", mtu=1500)
            for name, peer in zip(names, peers, strict=True):
                fd = os.open(peer, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    rtnl.add_veth(name, "eth0", peer_netns_fd=fd, mtu=1500,
                                  master=socket.if_nametoindex("br0"),
                                  peer_mac="02:42:0a:e8:00:02")
                finally:
                    os.close(fd)

    netns.run_in_netns(host, make)
    return names


def links(host: Path) -> dict[str, int]:
    """Name -> device group of every link in ``host`` but ``lo`` and ``br0``."""
    found = {}
    for line in ip(host, "-o", "-d", "link", "show").splitlines():
        name = line.split(": ")[1].split("@")[0]
        words = line.split()
        group = words[words.index("group") + 1] if "group" in words else "default"
        found[name] = 0 if group == "default" else int(group)
    return {k: v for k, v in found.items() if k not in ("lo", "br0")}


def count_group_deletes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    groups: list[int] = []
    real = Rtnl.delete_group

    def counted(self: Rtnl, group: int) -> None:
        groups.append(group)
        real(self, group)

    monkeypatch.setattr(Rtnl, "delete_group", counted)
    return groups


def test_concurrent_deletions_share_requests_and_spare_other_links(
        spaces: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    host, peers = spaces
    names = veths(host, peers)
    ip(host, "link", "add", "other", "type", "bridge")
    ip(host, "link", "set", "other", "group", "7")
    groups = count_group_deletes(monkeypatch)
    gate = threading.Barrier(len(names))
    results: dict[str, bool] = {}

    def delete(name: str) -> None:
        gate.wait()
        results[name] = netns.run_in_netns(host, lambda: link.delete_link(name))

    threads = [threading.Thread(target=delete, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == dict.fromkeys(names, True)
    assert links(host) == {"other": 7}
    assert 1 <= len(groups) < len(names)  # some deletions went together
    assert all(g >= 1 << 24 for g in groups)
    assert netns.run_in_netns(host, lambda: link.delete_link("vh0")) is False


def test_a_batch_refused_as_a_whole_is_deleted_link_by_link(
        spaces: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    """A link the kernel cannot delete (``lo``) in the chosen group: the group request fails
    without deleting anything, and the caller's link goes on its own."""
    host, peers = spaces
    names = veths(host, peers[:1])
    taken = 1 << 25
    ip(host, "link", "set", "lo", "group", str(taken))
    monkeypatch.setattr(dellink, "_free_group", lambda: taken)  # as if it raced the dump
    assert netns.run_in_netns(host, lambda: link.delete_link(names[0])) is True
    assert links(host) == {}
    assert f"group {taken}" in ip(host, "-d", "link", "show", "lo")  # untouched


def test_deferred_links_wait_for_the_flush_and_go_in_one_request(
        spaces: tuple[Path, list[Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    host, peers = spaces
    names = veths(host, peers)
    ip(host, "link", "add", "other", "type", "bridge")
    groups = count_group_deletes(monkeypatch)
    seen: dict[str, dict[str, int]] = {}

    def down() -> None:
        with dellink.deferred_deletes() as deferral:
            for name in names:
                assert link.delete_link(name, doomed=True) is True
            assert link.delete_link("other") is True  # not doomed: at once
            seen["moved"] = links(host)
            deferral.flush_in_background()
        seen["after"] = links(host)

    netns.run_in_netns(host, down)
    moved = seen["moved"]
    assert set(moved) == set(names)  # "other" went at once
    group = moved[names[0]]
    assert group >= 1 << 24 and {moved[n] for n in names} == {group}
    assert seen["after"] == {}
    assert groups.count(group) == 1  # the deferred ones: one request


def test_a_killed_deferral_leaves_nothing_once_the_namespaces_go(
        spaces: tuple[Path, list[Path]]) -> None:
    """The process dies after moving the veths (no flush); removing each peer's namespace,
    as ``remove_sandbox`` does right after the move, makes the kernel delete the pairs."""
    host, peers = spaces
    names = veths(host, peers[:3])
    code = ("import os, sys\n"
            "from engine.networks import dellink, link\n"
            "ctx = dellink.deferred_deletes(); ctx.__enter__()\n"
            "for name in sys.argv[1:]:\n"
            "    assert link.delete_link(name, doomed=True)\n"
            "os._exit(0)\n")
    subprocess.run(["nsenter", f"--net={host}", sys.executable, "-c", code, *names],
                   check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    left = links(host)
    assert {left[n] for n in names} != {0}  # moved, not deleted: nobody flushed
    for peer in peers[:3]:
        netns.remove_netns(peer)
    deadline = time.monotonic() + 10
    while links(host) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert links(host) == {}
