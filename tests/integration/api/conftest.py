"""A private state root with the busybox test image, for stacks driven through compose.api
in this process; the finalizer checks nothing of the project is left on the host."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import IMAGE, SLEEPER, Stack, import_busybox, leftovers

__all__ = ["IMAGE", "SLEEPER", "Stack"]


@pytest.fixture
def api_stack(tmp_path: Path, busybox_rootfs: Path, request: pytest.FixtureRequest,
              monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A project directory and state root (``PYCOMPOSE_ROOT`` set for this process); after
    the test, ``pycompose down -v`` through the CLI must find nothing left to clean."""
    root = tmp_path / "s"
    proj = tmp_path / "p"
    proj.mkdir()
    name = "a" + request.node.name.lower().replace("_", "")[-20:]
    import_busybox(root, busybox_rootfs, tmp_path)
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(root))
    st = Stack(proj, root, name)
    yield st
    st.run("down", "-v", "-t", "1", check=False)
    assert leftovers(st) == []
