"""fuse-overlayfs, the fallback where the kernel refuses OverlayFS in a user namespace (forced
here, since this kernel accepts it): the container writes to its root filesystem, and nothing of
the fuse process is left after down."""
from __future__ import annotations

import subprocess

import pytest

from tests.integration.rootless.conftest import Project

pytestmark = [pytest.mark.root, pytest.mark.slow]

STACK = """
services:
  f:
    image: pycompose-examples/busybox:latest
    build: ../../images/busybox
    command: ["sh", "-c", "echo written > /new && cat /new && grep ' / ' /proc/mounts"]
"""


def test_fuse_overlayfs_root_filesystem(project: Project) -> None:
    (project.hello / "fuse.yaml").write_text(STACK)
    files = ("-f", "fuse.yaml", "-p", "rlfuse")
    force = {"PYCOMPOSE_ROOTLESS_OVERLAY": "fuse"}
    project.ok(*files, "build")
    done = project.compose(*files, "run", "--rm", "-T", "f", env=force)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "written" in done.stdout and "fuse-overlayfs" in done.stdout, done.stdout
    project.ok(*files, "down", "-v")
    procs = subprocess.run(["ps", "-U", str(project.user.uid), "-o", "stat=,comm="], text=True,
                           capture_output=True, timeout=30).stdout
    assert not [p for p in procs.splitlines() if "fuse-overlayfs" in p and
                not p.startswith("Z")], procs
