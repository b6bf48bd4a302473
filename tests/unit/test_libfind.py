"""engine.libfind: ctypes.util.find_library's answer from one listing of each directory."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import libfind


def test_a_library_is_found_by_its_shortest_versioned_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("libfoo.so.1.2.3", "libfoo.so.1", "libfoo-bar.so.2", "libbar.so",
                 "libxtables.so.12"):
        (tmp_path / name).touch()
    (tmp_path / "xtables").mkdir()
    monkeypatch.setattr(libfind, "library_dirs", lambda: (str(tmp_path),))
    assert libfind.find_library("foo") == "libfoo.so.1"
    assert libfind.find_library("foo-bar") == "libfoo-bar.so.2"
    assert libfind.find_library("bar") is None  # unversioned: a development link only
    assert libfind.find_library("fo") is None
    assert libfind.xtables_dir() == str(tmp_path / "xtables")
