"""Push and pull against a real registry, cross-checked with skopeo."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import engine.images as im
from engine.images import blobstore
from engine.images.registry import push as pushmod
from tests.integration.images.conftest import Registry, skopeo

pytestmark = pytest.mark.root


def _remote_digest(registry: Registry, repo: str) -> str:
    out = skopeo("inspect", "--tls-verify=false", f"docker://{registry.host}/{repo}")
    return str(json.loads(out)["Digest"])


def test_skopeo_push_pycompose_pull(state_root: Path, tmp_path: Path, rootfs_tar: Path,
                                    registry: Registry,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    img = im.import_rootfs(rootfs_tar, "bb:1")
    archive = tmp_path / "bb.tar"
    im.save(["bb:1"], archive, format="docker-archive")
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{archive}",
           f"docker://{registry.host}/test/bb:sk")
    remote = _remote_digest(registry, "test/bb:sk")

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(fresh))
    pulled = im.pull(f"{registry.host}/test/bb:sk")
    assert pulled.manifest_digest == remote
    assert pulled.id == img.id  # same config blob → same image id
    assert f"{registry.host}/test/bb@{remote}" in pulled.repo_digests
    assert (pulled.layer_dirs[0] / "bin/busybox").stat().st_size > 100_000
    assert os.readlink(pulled.layer_dirs[0] / "bin/sh") == "/bin/busybox"


@pytest.mark.parametrize("chunked", [False, True])
def test_pycompose_push_skopeo_reads(state_root: Path, tmp_path: Path, rootfs_tar: Path,
                                     registry: Registry, chunked: bool,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if chunked:
        monkeypatch.setattr(pushmod, "CHUNK_THRESHOLD", 1 << 16)
        monkeypatch.setattr(pushmod, "UPLOAD_CHUNK", 1 << 18)
    img = im.import_rootfs(rootfs_tar, "bb:2")
    ref = f"{registry.host}/mine/bb:v2"
    digest = im.push(ref, source="bb:2")
    assert digest == img.manifest_digest == _remote_digest(registry, "mine/bb:v2")
    # skopeo can copy it out (it verifies every blob) ...
    skopeo("copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{tmp_path / 'oci'}:x")
    # ... and a second push uploads no blob again
    events: list[im.Progress] = []
    im.push(ref, source="bb:2", progress=events.append)
    assert {e.status for e in events if e.what.startswith("sha256:")} == {
        "Layer already exists"}
    # pull back into a fresh store: same image
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(fresh))
    assert im.pull(ref).id == img.id


def _blob_file(registry: Registry, digest: str) -> Path:
    hexd = digest.removeprefix("sha256:")
    return registry.data / "docker/registry/v2/blobs/sha256" / hexd[:2] / hexd / "data"


@pytest.mark.parametrize("damage", ["corrupt", "truncate"])
def test_damaged_blob_rejected(state_root: Path, rootfs_tar: Path, registry: Registry,
                               damage: str) -> None:
    im.import_rootfs(rootfs_tar, "bb:3")
    ref = f"{registry.host}/dmg/bb:1"
    im.push(ref, source="bb:3")
    im.remove("bb:3")
    assert blobstore.list_blobs() == []
    layer_digest = _layer_digest(registry, "dmg/bb:1")
    path = _blob_file(registry, layer_digest)
    data = path.read_bytes()
    if damage == "corrupt":
        path.write_bytes(data[:1000] + bytes([data[1000] ^ 0xFF]) + data[1001:])
    else:
        path.write_bytes(data[: len(data) // 3])
    with pytest.raises(im.CorruptBlob) as err:
        im.pull(ref)
    assert layer_digest in str(err.value)
    assert "mismatch" in str(err.value)
    assert not blobstore.has_blob(layer_digest)
    assert os.listdir(state_root / "images/tmp") == []
    layers_dir = state_root / "images/layers"
    assert not layers_dir.exists() or os.listdir(layers_dir) == []
    assert not im.exists(ref)


def _layer_digest(registry: Registry, repo: str) -> str:
    out = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/{repo}")
    return str(json.loads(out)["layers"][0]["digest"])


def test_push_to_second_repository_mounts_blobs(state_root: Path, rootfs_tar: Path,
                                                registry: Registry) -> None:
    img = im.import_rootfs(rootfs_tar, "bb:mount")
    im.push(f"{registry.host}/first/bb:1", source="bb:mount")
    events: list[im.Progress] = []
    digest = im.push(f"{registry.host}/second/bb:1", source="bb:mount", progress=events.append)
    statuses = {e.status for e in events if e.what.startswith("sha256:")}
    assert statuses == {"Mounted from first/bb"}
    assert digest == img.manifest_digest == _remote_digest(registry, "second/bb:1")
