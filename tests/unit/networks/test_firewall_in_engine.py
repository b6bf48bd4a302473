"""The first ``up`` after a pause has the warm engine it started apply its firewall rules
(engine.networks.firewall.replace_rules): the request, the rules' round trip, the errors that
come back, and the fallbacks to doing it in the command. The engine's fork is stood in for by
a fresh interpreter running the same argv (no root: nothing reaches the packet filter)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine import warm
from engine.networks import firewall
from engine.networks.model import NetworkError
from engine.networks.rules import Rule

REPO = Path(__file__).resolve().parents[3]
RULES = [Rule("filter", "PYCOMPOSE-FORWARD", "ACCEPT", "pycompose:net:abc", in_if="br-x",
              out_if="!br-x", ctstate="RELATED,ESTABLISHED", first=True),
         Rule("nat", "PYCOMPOSE-DNAT", "DNAT", "pycompose:ctr:1", proto="tcp", dport=8080,
              to="10.99.0.2:80")]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """This command started the engine for an ``up``; spawns run ``python <argv>`` with the
    given environment and descriptors (what the engine's fork does); the argvs asked for."""
    asked: list[list[str]] = []
    children: list[subprocess.Popen[bytes]] = []

    def spawn(argv: list[str], env: dict[str, str], stdio: tuple[int, int, int],
              pass_fds: tuple[int, ...] = ()) -> bool:
        asked.append(argv)
        children.append(subprocess.Popen(
            [sys.executable, *argv], stdin=stdio[0], stdout=stdio[1], stderr=stdio[2],
            env={**env, "PYTHONPATH": str(REPO)}, start_new_session=True))
        return True

    monkeypatch.setattr(warm, "starting_for_containers", True)
    monkeypatch.setattr(warm, "_starting", -1)
    monkeypatch.setattr(warm, "spawn_python", spawn)
    monkeypatch.setattr(firewall, "_chosen", {})
    yield asked
    for child in children:
        child.wait(10)


def test_an_error_met_by_the_engine_is_raised_in_the_command(
        started: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYCOMPOSE_FIREWALL", "pf")  # the engine's fork sees our environment
    with pytest.raises(NetworkError) as caught:
        firewall.replace_rules("pycompose:net:abc", RULES)
    assert str(caught.value) == ("choose firewall backend: PYCOMPOSE_FIREWALL='pf': use "
                                 "'iptables' or 'nftables'")
    assert caught.value.step == "choose firewall backend"
    assert len(started) == 1 and started[0][0] == "-c" and started[0][2] == "pycompose:net:abc"
    assert firewall._chosen == {}  # nothing was tried here


def test_the_rules_cross_intact(capfd: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """What the engine's fork applies is what the command asked for, field by field."""
    applied: list[tuple[str, list[Rule]]] = []
    monkeypatch.setattr(firewall, "_replace_here", lambda tag, rules: applied.append(
        (tag, list(rules))))
    data = json.dumps([{name: getattr(r, name) for name in r.__slots__} for r in RULES])
    assert firewall.replace_for_command("pycompose:net:abc", data) == 0
    assert applied == [("pycompose:net:abc", RULES)]
    assert json.loads(capfd.readouterr().out) == {"ok": True}


def test_an_unexpected_failure_in_the_engine_names_the_step_and_the_rules(
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(tag: str, rules: list[Rule]) -> None:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(firewall, "_replace_here", fail)
    assert firewall.replace_for_command("pycompose:net:abc", "[]") == 1
    assert json.loads(capfd.readouterr().out) == {
        "error": "OSError: [Errno 22] Invalid argument", "kind": "NetworkError",
        "step": "apply firewall rules", "obj": "pycompose:net:abc"}


def test_without_an_answer_the_command_does_it_itself(
        started: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's process ended without a word (killed, crashed): replacing again is
    harmless, so the command does it; likewise when the engine is gone."""
    monkeypatch.setattr(firewall, "_IN_ENGINE", "pass")
    done: list[str] = []
    monkeypatch.setattr(firewall, "_replace_here", lambda tag, rules: done.append(tag))
    firewall.replace_rules("pycompose:net:abc", RULES)
    assert done == ["pycompose:net:abc"] and len(started) == 1
    monkeypatch.setattr(warm, "spawn_python", lambda *a, **k: False)
    firewall.replace_rules("pycompose:net:def", RULES)
    assert done == ["pycompose:net:abc", "pycompose:net:def"]


def test_only_the_command_that_started_the_engine_for_containers_asks_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[object] = []
    monkeypatch.setattr(warm, "spawn_python", lambda *a, **k: asked.append(a) or False)
    monkeypatch.setattr(firewall, "_replace_here", lambda tag, rules: None)
    monkeypatch.setattr(firewall, "_chosen", {})
    monkeypatch.setattr(warm, "_starting", -1)
    monkeypatch.setattr(warm, "starting_for_containers", False)
    firewall.replace_rules("pycompose:net:abc", RULES)
    assert asked == []
    # an engine that gave way to another one (its ready pipe ended without a word)
    ready_r, ready_w = os.pipe()
    os.close(ready_w)
    monkeypatch.setattr(warm, "starting_for_containers", True)
    monkeypatch.setattr(warm, "_starting", ready_r)
    firewall.replace_rules("pycompose:net:abc", RULES)
    assert asked == [] and warm.starting_for_containers is False
