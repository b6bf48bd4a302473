"""A multi-platform OCI index pushed with skopeo to the real registry; pull picks a platform."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

import engine.images as im
from engine.errors import EngineError
from engine.images import blobstore
from engine.images.imagestore import host_arch
from tests.integration.images.conftest import Registry, skopeo

pytestmark = pytest.mark.root
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _layout_with_index(tmp_path: Path, images: dict[str, im.Image]) -> Path:
    """An OCI layout dir whose 'multi' ref is an index of ``images`` by architecture."""
    layout = tmp_path / "layout"
    (layout / "blobs/sha256").mkdir(parents=True)
    entries = []
    for arch, image in images.items():
        archive = tmp_path / f"{arch}.tar"
        im.save([image.id], archive, format="oci-archive")
        with tarfile.open(archive) as tf:
            for m in tf.getmembers():
                if m.name.startswith("blobs/sha256/"):
                    tf.extract(m, layout)
        size = blobstore.blob_size(image.manifest_digest)
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                        "digest": image.manifest_digest, "size": size,
                        "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                        "manifests": entries}).encode()
    digest = hashlib.sha256(index).hexdigest()
    (layout / "blobs/sha256" / digest).write_bytes(index)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_INDEX, "digest": f"sha256:{digest}", "size": len(index),
         "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}))
    return layout


def _variant(tmp_path: Path, name: str, arch: str) -> im.Image:
    rootfs = tmp_path / f"{name}.tar"
    with tarfile.open(rootfs, "w") as tf:
        info = tarfile.TarInfo("which")
        info.size = len(arch)
        tf.addfile(info, io.BytesIO(arch.encode()))
    return im.import_rootfs(rootfs, f"variant/{name}:1", changes={"Env": [f"ARCH={arch}"]})


def test_index_platform_selection(state_root: Path, tmp_path: Path, registry: Registry) -> None:
    host = host_arch()
    other = "arm64" if host != "arm64" else "amd64"
    images = {host: _variant(tmp_path, "native", host), other: _variant(tmp_path, "foreign",
                                                                        other)}
    layout = _layout_with_index(tmp_path, images)
    ref = f"{registry.host}/multi/app:1"
    skopeo("copy", "--all", "--dest-tls-verify=false", f"oci:{layout}:multi", f"docker://{ref}")
    # skopeo may recompress layers on the way: the registry's index is the reference
    remote = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}"))
    by_arch = {m["platform"]["architecture"]: m["digest"] for m in remote["manifests"]}
    native = im.pull(ref)
    assert native.manifest_digest == by_arch[host]
    assert native.id == images[host].id  # same config, so the same image
    assert (native.layer_dirs[0] / "which").read_text() == host
    foreign = im.pull(ref, platform=f"linux/{other}")
    assert foreign.manifest_digest == by_arch[other]
    assert foreign.config.env == (f"ARCH={other}",)
    with pytest.raises(EngineError, match="no manifest for platform linux/s390x"):
        im.pull(ref, platform="linux/s390x")
