"""Archives written by pycompose read by skopeo, and archives written by skopeo loaded here."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import engine.images as im
from tests.integration.images.conftest import Registry, skopeo

pytestmark = pytest.mark.root


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_skopeo_reads_our_archives(state_root: Path, tmp_path: Path, rootfs_tar: Path,
                                   fmt: str, registry: Registry) -> None:
    img = im.import_rootfs(rootfs_tar, "bb:save")
    out = tmp_path / f"bb-{fmt}.tar"
    im.save(["bb:save"], out, format=fmt)
    info = json.loads(skopeo("inspect", f"{fmt}:{out}"))
    assert info["Architecture"] == img.architecture and info["Os"] == "linux"
    assert info["Layers"] and len(info["Layers"]) == 1
    if fmt == "oci-archive":
        assert info["Digest"] == img.manifest_digest
    config = json.loads(skopeo("inspect", "--config", f"{fmt}:{out}"))
    assert config["rootfs"]["diff_ids"] == list(img.diff_ids)
    # and skopeo can push what we wrote; the registry verifies every blob on upload
    skopeo("copy", "--dest-tls-verify=false", f"{fmt}:{out}",
           f"docker://{registry.host}/from/{fmt}:1")


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_we_load_skopeo_archives(state_root: Path, tmp_path: Path, rootfs_tar: Path,
                                 fmt: str, registry: Registry,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    img = im.import_rootfs(rootfs_tar, "bb:src")
    im.push(f"{registry.host}/src/bb:1", source="bb:src")
    out = tmp_path / f"skopeo-{fmt}.tar"
    dest = f"{fmt}:{out}:" + ("src/bb:1" if fmt == "docker-archive" else "v1")
    skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/src/bb:1", dest)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(fresh))
    (loaded,) = im.load(out, tag=None if fmt == "docker-archive" else "loaded/bb:v1")
    assert loaded.id == img.id
    expected_tag = "docker.io/src/bb:1" if fmt == "docker-archive" else "docker.io/loaded/bb:v1"
    assert loaded.repo_tags == (expected_tag,)
    assert (loaded.layer_dirs[0] / "bin/busybox").is_file()


def test_we_load_skopeo_oci_layout_dir(state_root: Path, tmp_path: Path, rootfs_tar: Path,
                                       registry: Registry,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    img = im.import_rootfs(rootfs_tar, "bb:dir")
    im.push(f"{registry.host}/src/dir:1", source="bb:dir")
    layout = tmp_path / "layout"
    skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/src/dir:1",
           f"oci:{layout}:v1")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(fresh))
    (loaded,) = im.load(layout, tag="fromdir:v1")
    assert loaded.id == img.id and loaded.repo_tags == ("docker.io/library/fromdir:v1",)
