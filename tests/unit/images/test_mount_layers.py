"""Which layers an image mount stacks for a subpath: whiteouts, non-directories and opaque
directories end the stack (overlay's own rules, applied to a subdirectory)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.images.imagestore import _layer_view
from engine.images.layers import OPAQUE_XATTR


def _whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(0, 0))
    except PermissionError:
        pytest.skip("mknod of a whiteout needs CAP_MKNOD")


def _opaque(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    try:
        os.setxattr(path, OPAQUE_XATTR, b"y")
    except OSError:
        pytest.skip("trusted.* xattrs need CAP_SYS_ADMIN and a filesystem that keeps them")


def test_layer_views(tmp_path: Path) -> None:
    parts = ["srv", "data"]
    plain = tmp_path / "plain"
    (plain / "srv" / "data").mkdir(parents=True)
    assert _layer_view(plain, parts) == "dir"
    assert _layer_view(plain, []) == "dir"
    assert _layer_view(tmp_path / "empty", parts) == "absent"
    (tmp_path / "empty").mkdir()
    assert _layer_view(tmp_path / "empty", parts) == "absent"
    wh = tmp_path / "wh"
    _whiteout(wh / "srv")
    assert _layer_view(wh, parts) == "hidden"  # a deleted parent hides the lower layers
    file_layer = tmp_path / "file"
    (file_layer / "srv").mkdir(parents=True)
    (file_layer / "srv" / "data").write_text("not a dir")
    assert _layer_view(file_layer, parts) == "hidden"
    opq = tmp_path / "opq"
    _opaque(opq / "srv" / "data")
    assert _layer_view(opq, parts) == "opaque"
    parent = tmp_path / "parent"
    _opaque(parent / "srv")
    assert _layer_view(parent, parts) == "hidden"  # replaced parent without the subpath
    (parent / "srv" / "data").mkdir()
    assert _layer_view(parent, parts) == "opaque"
