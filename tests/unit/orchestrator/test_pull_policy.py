"""pull_policy daily / weekly / every_<duration>: compose-go's durations, and the decision
taken against the tag time recorded in the image store (docker's LastTagTime)."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from compose.config.units import pull_refresh_interval
from compose.errors import ConfigError
from compose.orchestrator.imagesources import refresh_due as _refresh_due
from engine import images
from tests.unit.config.helpers import load_in, write
from tests.unit.images.test_store import _rootfs_tar


@pytest.mark.parametrize(("policy", "seconds"), [
    ("daily", 86400), ("weekly", 7 * 86400), ("every_12h", 43200), ("every_2d", 172800),
    ("every_1w", 604800), ("every_1h30m", 5400), ("every_500ms", 0.5), ("every_1.5h", 5400),
    ("always", None), ("missing", None), ("never", None), ("build", None), ("refresh", None),
])
def test_refresh_intervals(policy: str, seconds: float | None) -> None:
    assert pull_refresh_interval(policy) == seconds


def test_refresh_with_pull_refresh_after(tmp_path: Path) -> None:
    assert pull_refresh_interval("refresh", "3d") == 3 * 86400
    write(tmp_path, "compose.yaml", """
        services:
          a: {image: x, pull_policy: refresh, pull_refresh_after: 2h}
          b: {image: x, pull_policy: refresh, pull_refresh_after: soon}
    """)
    with pytest.raises(ConfigError) as info:
        load_in(tmp_path)
    assert "pull_refresh_after" in str(info.value) and info.value.line == 4


@pytest.mark.parametrize("policy", ["every_", "every_5", "every_1y", "every_0s", "every_-1h"])
def test_bad_every_policies_are_located(tmp_path: Path, policy: str) -> None:
    write(tmp_path, "compose.yaml", f"services:\n  a:\n    image: x\n    pull_policy: {policy}\n")
    with pytest.raises(ConfigError) as info:
        load_in(tmp_path)
    assert info.value.line == 4 and "pull_policy" in str(info.value)


def test_refresh_is_due_once_the_tag_is_older_than_the_interval(state_root: Path,
                                                                tmp_path: Path) -> None:
    tar = _rootfs_tar(tmp_path, {"bin/busybox": b"BB"}, "")
    images.import_rootfs(tar, "app:1")
    stamped = images.last_tagged("app:1")
    assert stamped is not None and abs(stamped - time.time()) < 5
    assert images.last_tagged("docker.io/library/app:1") == stamped
    assert not _refresh_due("app:1", "daily")
    assert not _refresh_due("app:1", "missing")
    time.sleep(0.05)
    assert _refresh_due("app:1", "every_10ms")
    images.tag("app:1", "app:2")  # a new tag gets its own time; the old one keeps its own
    assert images.last_tagged("app:2") > stamped
    assert images.last_tagged("app:1") == stamped
    assert _refresh_due("never:seen", "weekly")  # no record: due (pull if missing, as compose)
    images.remove("app:2")
    assert images.last_tagged("app:2") is None
