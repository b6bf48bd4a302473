"""Registry traffic of a rootless command leaves from the host's network namespace: push to and
pull from a registry on the host's loopback (unreachable from the rootless namespace itself)."""
from __future__ import annotations

import pytest

from tests.integration.images.conftest import Registry, registry  # noqa: F401 (fixture)
from tests.integration.rootless.conftest import Project

pytestmark = [pytest.mark.root, pytest.mark.slow]

STACK = """
services:
  app:
    image: {host}/rootless/busybox:1
    build: ../../images/busybox
    command: ["echo", "pulled-and-ran"]
"""


def test_push_and_pull_through_the_host_network(project: Project,
                                                 registry: Registry) -> None:  # noqa: F811
    (project.hello / "registry.yaml").write_text(STACK.format(host=registry.host))
    files = ("-f", "registry.yaml", "-p", "rlreg")
    project.ok(*files, "build")
    project.ok(*files, "push")
    project.ok(*files, "down", "--rmi", "all")
    images = project.ok("image", "ls")
    assert "rootless/busybox" not in images, images
    project.ok(*files, "pull")
    assert "pulled-and-ran" in project.ok(*files, "run", "--rm", "-T", "app")
    project.ok(*files, "down", "-v", "--rmi", "all")
