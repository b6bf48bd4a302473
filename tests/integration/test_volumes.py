"""engine.volumes with real mounts: tmpfs volumes are mounted on first use and removed cleanly."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import volumes


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


@pytest.mark.root
def test_tmpfs_volume_mounts_and_unmounts(state_root: Path) -> None:
    vol = volumes.create_volume("t", options={"type": "tmpfs", "o": "size=1m,mode=0700"})
    try:
        path = volumes.mount_path("t")
        assert _mounted(path)
        assert volumes.mount_path("t") == path  # second use does not stack another mount
        (path / "f").write_text("x")
    finally:
        volumes.remove_volume("t")
    assert not _mounted(vol.mountpoint)
    assert not (state_root / "volumes" / "t").exists()
