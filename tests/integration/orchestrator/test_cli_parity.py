"""docker compose parity details through the CLI as root: run creates networks and volumes,
shared images are built once, progress lines while waiting on conditions, --wait failures."""
from __future__ import annotations

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack


@pytest.mark.root
def test_run_creates_networks_and_volumes_of_a_fresh_project(stack: Stack) -> None:
    stack.write(f"""
services:
  job:
    image: {IMAGE}
    command: ["sh", "-c", "echo default"]
    volumes: [data:/data]
    networks: [back]
  other:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on: [job]
networks:
  back: {{}}
volumes:
  data: {{}}
""")
    proc = stack.run("run", "--rm", "--no-deps", "job", "sh", "-c",
                     "echo kept > /data/x; cat /data/x")
    assert proc.stdout == "kept\n"
    assert f"Network {stack.name}_back  Created" in proc.stderr
    assert f"Volume {stack.name}_data  Created" in proc.stderr
    again = stack.run("run", "--rm", "job", "cat", "/data/x")  # the volume persists
    assert again.stdout == "kept\n"
    assert "Created" not in again.stderr
