"""Scenario: a named volume keeps its data across ``down`` + ``up`` and is removed by
``down -v`` (pycompose has no ``volume`` command; the engine's volume API is the listing)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def volumes(sc: Scenario) -> dict[str, str]:
    """name -> host mountpoint of every volume in the state root."""
    out = sc.engine("import json; from engine import volumes; "
                    "print(json.dumps({v.name: str(v.mountpoint) "
                    "for v in volumes.list_volumes()}))")
    data: dict[str, str] = json.loads(out)
    return data


def test_named_volume_survives_down_and_goes_with_down_v(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes:
      - data:/var/lib/db
      - /scratch
  reader:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes:
      - data:/shared:ro
volumes:
  data:
""")
    vol = f"{sc.name}_data"
    sc.up("-d", "--wait")
    sc.sh("db", "echo persisted > /var/lib/db/file; sync", check=True)
    # the same volume is shared, read-only where asked
    assert sc.sh("reader", "cat /shared/file", check=True).stdout == "persisted\n"
    assert sc.sh("reader", "touch /shared/nope").returncode != 0

    down = sc.run("down", "-t", "1")
    assert f"Volume {vol}" not in down.stderr  # without -v, volumes are kept
    assert sc.ps() == []
    mountpoint = volumes(sc)[vol]
    assert (Path(mountpoint) / "file").read_text() == "persisted\n"

    sc.up("-d", "--wait")  # fresh containers, same volume
    assert sc.sh("db", "cat /var/lib/db/file", check=True).stdout == "persisted\n"

    down_v = sc.run("down", "-v", "-t", "1")
    assert f"Volume {vol} Removed" in down_v.stderr
    assert volumes(sc) == {}  # the named one and the anonymous /scratch
    assert not Path(mountpoint).exists()


def test_anonymous_volume_kept_on_recreate_and_removed_by_down_v(scenario: Scenario) -> None:
    sc = scenario
    compose = f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    environment:
      REV: "REVISION"
    volumes:
      - /cache
"""
    sc.write(compose.replace("REVISION", "1"))
    sc.up("-d", "--wait")
    sc.sh("app", "echo warm > /cache/entry", check=True)
    before = volumes(sc)
    assert len(before) == 1  # one anonymous volume, nothing named
    sc.write(compose.replace("REVISION", "2"))  # config change: the container is recreated
    up = sc.up("-d", "--wait")
    assert "Recreate" in up.stderr, up.stderr
    assert sc.sh("app", "cat /cache/entry", check=True).stdout == "warm\n"
    assert volumes(sc) == before  # the recreated container took the same anonymous volume
    sc.run("down", "-v", "-t", "1")
    assert volumes(sc) == {}
