"""CLI-level fixtures: a private state root with a busybox image, a runner, and a finalizer
that runs ``down -v`` and asserts nothing of the project is left on the host."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import IMAGE, SLEEPER, Stack, import_busybox, leftovers

__all__ = ["IMAGE", "SLEEPER", "Stack"]


@pytest.fixture
def stack(tmp_path: Path, busybox_rootfs: Path, request: pytest.FixtureRequest
          ) -> Iterator[Stack]:
    """A project named after the test, torn down (down -v) and checked afterwards."""
    root = tmp_path / "s"
    proj = tmp_path / "p"
    proj.mkdir()
    name = "t" + re.sub(r"[^a-z0-9]", "", request.node.name.lower())[-20:]
    import_busybox(root, busybox_rootfs, tmp_path)
    st = Stack(proj, root, name)
    yield st
    st.run("down", "-v", "-t", "1", check=False)
    assert leftovers(st) == []
