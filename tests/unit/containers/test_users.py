"""Resolving ``user`` against the image's passwd and group files."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.containers.users import resolve_user
from engine.errors import EngineError


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                "app:x:1000:1000::/home/app:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nwheel:x:10:app,other\napp:x:1000:\ndocker:x:999:\n")
    return tmp_path


def test_names_numbers_and_groups(rootfs: Path) -> None:
    assert resolve_user(rootfs, "") == resolve_user(rootfs, "root")
    u = resolve_user(rootfs, "app")
    assert (u.uid, u.gid, u.additional_gids, u.home) == (1000, 1000, (10,), "/home/app")
    u = resolve_user(rootfs, "app:docker", ("root", "4242"))
    assert (u.uid, u.gid, u.additional_gids) == (1000, 999, (10, 0, 4242))
    u = resolve_user(rootfs, "1234:5678")
    assert (u.uid, u.gid, u.home) == (1234, 5678, "/")
    assert resolve_user(rootfs, "1000").gid == 1000  # numeric uid found in passwd


def test_unknown_names_are_errors(rootfs: Path) -> None:
    with pytest.raises(EngineError, match="unable to find user ghost"):
        resolve_user(rootfs, "ghost")
    with pytest.raises(EngineError, match="unable to find group nogroup"):
        resolve_user(rootfs, "app:nogroup")


def test_symlinks_stay_inside_the_rootfs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "real").mkdir()
    (root / "real" / "passwd").write_text("svc:x:7:7::/srv:/bin/sh\n")
    (root / "etc" / "passwd").symlink_to("/real/passwd")  # absolute: anchored at the rootfs
    assert resolve_user(root, "svc").uid == 7
