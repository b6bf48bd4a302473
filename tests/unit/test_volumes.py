"""engine.volumes: named/anonymous volumes, driver_opts checks, copy-up from image layers."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine import volumes
from engine.errors import Conflict, NotFound


def test_create_inspect_list_remove(state_root: Path) -> None:
    v = volumes.create_volume("proj_data", labels={"com.docker.compose.project": "proj"})
    assert v.mountpoint == state_root / "volumes" / "proj_data" / "_data"
    assert v.mountpoint.is_dir() and not v.anonymous
    assert volumes.create_volume("proj_data") == v  # idempotent, like docker
    anon = volumes.create_volume()
    assert anon.anonymous and len(anon.name) == 64
    assert [x.name for x in volumes.list_volumes({"com.docker.compose.project": "proj"})] == [
        "proj_data"]
    volumes.remove_volume("proj_data")
    assert not (state_root / "volumes" / "proj_data").exists()
    with pytest.raises(NotFound):
        volumes.inspect_volume("proj_data")
    volumes.remove_volume("proj_data", missing_ok=True)


def test_bad_driver_and_options(state_root: Path) -> None:
    with pytest.raises(volumes.VolumeError, match="driver 'nfs'"):
        volumes.create_volume("x", driver="nfs")
    with pytest.raises(volumes.VolumeError, match="unknown driver_opts"):
        volumes.create_volume("x", options={"foo": "1"})
    with pytest.raises(volumes.VolumeError, match="does not exist"):
        volumes.create_volume("x", options={"type": "none", "o": "bind", "device": "/nope/x"})
    with pytest.raises(volumes.VolumeError, match="invalid volume name"):
        volumes.create_volume("../etc")
    volumes.create_volume("y")
    with pytest.raises(Conflict):  # same name, other options: docker refuses too
        volumes.create_volume("y", options={"type": "tmpfs"})
    assert [v.name for v in volumes.list_volumes()] == ["y"]


def test_bind_volume_points_at_device(state_root: Path, tmp_path: Path) -> None:
    device = tmp_path / "dev"
    device.mkdir()
    v = volumes.create_volume("b", options={"type": "none", "o": "bind", "device": str(device)})
    assert volumes.mount_path("b") == device
    (device / "keep").write_text("x")
    volumes.remove_volume("b")
    assert (device / "keep").exists()  # a bind volume never deletes the host directory
    assert v.mountpoint == device


def test_copy_up_from_layers_with_whiteouts(state_root: Path, tmp_path: Path) -> None:
    low, up = tmp_path / "l1", tmp_path / "l2"
    (low / "var/lib/db/sub").mkdir(parents=True)
    (low / "var/lib/db/a.conf").write_text("a")
    (low / "var/lib/db/gone").write_text("old")
    (low / "var/lib/db/sub/deep").write_text("d")
    (up / "var/lib/db").mkdir(parents=True)
    (up / "var/lib/db/b.conf").write_text("b")
    (up / "var/lib/db/.wh.gone").write_text("")
    (up / "var/lib/db/link").symlink_to("a.conf")
    volumes.create_volume("db")
    assert volumes.populate_volume("db", [low, up], "/var/lib/db")
    data = volumes.mount_path("db")
    assert sorted(p.name for p in data.iterdir()) == ["a.conf", "b.conf", "link", "sub"]
    assert (data / "sub/deep").read_text() == "d"
    assert (data / "link").is_symlink()
    (data / "a.conf").write_text("changed by a container")
    assert not volumes.populate_volume("db", [low, up], "/var/lib/db")  # never twice
    assert (data / "a.conf").read_text() == "changed by a container"


def test_prune_only_anonymous_unless_all(state_root: Path) -> None:
    anon = volumes.create_volume()
    busy = volumes.create_volume()
    volumes.create_volume("named")
    assert volumes.prune_volumes([busy.name]) == [anon.name]
    assert volumes.prune_volumes([busy.name], all_volumes=True) == ["named"]
    assert [v.name for v in volumes.list_volumes()] == [busy.name]
