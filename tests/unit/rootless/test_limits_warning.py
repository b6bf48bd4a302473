"""Rootless without a delegated cgroup: one warning per service naming the keys; the stack runs."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from compose.config.model import Deploy, ResourceSpec, Service
from compose.orchestrator import translate
from engine.rootless import cgroups as rcg


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(translate, "_WARNED_UNENFORCED", set())


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_one_warning_naming_service_and_keys(monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(rcg, "limits_enforced", lambda mount=Path("/sys/fs/cgroup"): False)
    svc = Service("web", mem_limit=64 << 20,
                  deploy=Deploy(limits=ResourceSpec(cpus=0.5, pids=10)))
    with caplog.at_level(logging.WARNING):
        res = translate.resources(svc)
        translate.resources(svc)  # a second replica: no second warning
    assert res.memory == 64 << 20 and res.pids_limit == 10  # still asked for, not dropped
    (msg,) = _warnings(caplog)
    assert msg.startswith("service web: mem_limit, deploy.resources.limits.cpus, "
                          "deploy.resources.limits.pids not enforced"), msg


def test_no_warning_where_limits_apply_or_none_asked(monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(rcg, "limits_enforced", lambda mount=Path("/sys/fs/cgroup"): True)
    with caplog.at_level(logging.WARNING):
        translate.resources(Service("a", mem_limit=1 << 20))
    monkeypatch.setattr(rcg, "limits_enforced", lambda mount=Path("/sys/fs/cgroup"): False)
    with caplog.at_level(logging.WARNING):
        translate.resources(Service("b"))
    assert _warnings(caplog) == []


def test_delegated_subtree_is_the_highest_owned_ancestor(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    mount = tmp_path / "cg"
    leaf = mount / "user.slice" / "user-1000.slice" / "user@1000.service" / "app.slice"
    leaf.mkdir(parents=True)
    (mount / "cgroup.controllers").write_text("memory pids\n")
    owned = {mount / "user.slice" / "user-1000.slice" / "user@1000.service", leaf}
    monkeypatch.setattr(rcg, "owned", lambda d, uid: d in owned)
    got = rcg.delegated_subtree(mount, "0::/user.slice/user-1000.slice/user@1000.service/"
                                       "app.slice\n")
    assert got == mount / "user.slice" / "user-1000.slice" / "user@1000.service"
    monkeypatch.setattr(rcg, "owned", lambda d, uid: False)
    assert rcg.delegated_subtree(mount, "0::/user.slice\n") is None
    assert isinstance(rcg.rootless_driver(tmp_path / "v1"), rcg.NullDriver)
