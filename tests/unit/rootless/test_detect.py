"""Root-or-not detection and the per-user paths."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import paths
from engine.rootless import detect


@pytest.fixture(autouse=True)
def _fresh() -> object:
    detect.reset()
    yield
    detect.reset()


def _as_user(monkeypatch: pytest.MonkeyPatch, uid: int = 1000) -> None:
    monkeypatch.setattr(detect.os, "geteuid", lambda: uid)
    monkeypatch.setattr(detect.os, "getuid", lambda: uid)


def test_a_non_root_user_is_rootless(monkeypatch: pytest.MonkeyPatch) -> None:
    _as_user(monkeypatch)
    assert detect.rootless()


def test_root_in_our_user_namespace_is_rootless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect.os, "geteuid", lambda: 0)
    monkeypatch.setattr(detect, "_uid_map", lambda: [["0", "1001", "1"],
                                                     ["1", "100000", "65536"]])
    assert detect.rootless() and detect.in_user_namespace()
    assert detect.host_uid() == 1001


def test_root_with_the_whole_id_space_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect.os, "geteuid", lambda: 0)
    monkeypatch.setattr(detect, "_uid_map", lambda: [detect.FULL_MAP])
    assert not detect.rootless()


def test_state_root_per_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _as_user(monkeypatch)
    monkeypatch.delenv(paths.ROOT_ENV, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert paths.state_root() == tmp_path / "data" / "pycompose"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert paths.state_root() == tmp_path / "home" / ".local" / "share" / "pycompose"
    monkeypatch.setenv(paths.ROOT_ENV, str(tmp_path / "explicit"))
    assert paths.state_root() == tmp_path / "explicit"


def test_root_keeps_var_lib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(detect.os, "geteuid", lambda: 0)
    monkeypatch.setattr(detect, "_uid_map", lambda: [detect.FULL_MAP])
    monkeypatch.delenv(paths.ROOT_ENV, raising=False)
    assert paths.state_root() == Path("/var/lib/pycompose")
    assert paths.lock_path(Path("/run/x.lock")) == Path("/run/x.lock")


def test_runtime_dir_prefers_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _as_user(monkeypatch, 4242)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert detect.runtime_dir() == tmp_path / "pycompose"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    assert detect.runtime_dir() == Path("/tmp/pycompose-4242")


def test_one_namespace_dir_per_state_root(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    a, b = detect.namespace_dir(tmp_path / "a"), detect.namespace_dir(tmp_path / "b")
    assert a != b and a.parent == b.parent == tmp_path / "pycompose"
    assert detect.namespace_dir(tmp_path / "a") == a
