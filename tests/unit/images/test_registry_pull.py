from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

import engine.images as im
from engine.errors import EngineError
from engine.images import blobstore
from tests.unit.images.fakeregistry import FakeRegistry, digest_of, serve

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _layer(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _publish(reg: FakeRegistry, repo: str, tag: str, arch: str = "amd64",
             index: bool = False) -> dict[str, str]:
    plain = [_layer("a.txt", b"plain"), _layer("b.txt", b"gz"), _layer("c.txt", b"zst")]
    blobs = [plain[0], gzip.compress(plain[1]), zstandard.ZstdCompressor().compress(plain[2])]
    types = ["tar", "tar+gzip", "tar+zstd"]
    config = json.dumps({"architecture": arch, "os": "linux",
                         "config": {"Env": ["A=1"], "Cmd": ["sh"]},
                         "rootfs": {"type": "layers",
                                    "diff_ids": [digest_of(p) for p in plain]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": reg.add_blob(config), "size": len(config)},
                "layers": [{"mediaType": f"application/vnd.oci.image.layer.v1.{t}",
                            "digest": reg.add_blob(b), "size": len(b)}
                           for b, t in zip(blobs, types, strict=True)]}
    mdigest = reg.add_manifest(repo, tag if not index else f"{tag}-{arch}", manifest)
    out = {"manifest": mdigest, "gz": manifest["layers"][1]["digest"]}
    if index:
        other = reg.add_manifest(repo, "other", {**manifest, "annotations": {"x": "y"}})
        body = json.dumps(manifest).encode()
        idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": other, "size": 1,
             "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": mdigest, "size": len(body),
             "platform": {"os": "linux", "architecture": arch}}]}
        out["index"] = reg.add_manifest(repo, tag, idx)
        out["other"] = other
    return out


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with serve(FakeRegistry()) as reg:
        yield reg


def test_anonymous_pull_all_compressions(state_root: Path, registry: FakeRegistry) -> None:
    info = _publish(registry, "lib/app", "v1")
    events: list[im.Progress] = []
    img = im.pull(f"127.0.0.1:{registry.port}/lib/app:v1", progress=events.append)
    assert img.manifest_digest == info["manifest"]
    assert img.config.env == ("A=1",) and img.config.cmd == ("sh",)
    contents = [sorted(os.listdir(d)) for d in img.layer_dirs]
    assert contents == [["a.txt"], ["b.txt"], ["c.txt"]]
    assert (img.layer_dirs[2] / "c.txt").read_bytes() == b"zst"
    assert f"127.0.0.1:{registry.port}/lib/app@{info['manifest']}" in img.repo_digests
    assert any(e.status == "Pull complete" for e in events)
    assert img.size == 3 * len(_layer("a.txt", b"x"))  # uncompressed, like docker images
    # pulling again downloads no blob
    before = len([r for r in registry.requests if "/blobs/" in r])
    im.pull(f"127.0.0.1:{registry.port}/lib/app:v1")
    assert len([r for r in registry.requests if "/blobs/" in r]) == before


def test_index_platform_selection(state_root: Path, registry: FakeRegistry) -> None:
    info = _publish(registry, "multi", "v1", index=True)
    img = im.pull(f"127.0.0.1:{registry.port}/multi:v1", platform="linux/amd64")
    assert img.manifest_digest == info["manifest"]
    img2 = im.pull(f"127.0.0.1:{registry.port}/multi:v1", platform="linux/arm64")
    assert img2.manifest_digest == info["other"]
    with pytest.raises(EngineError, match="no manifest for platform"):
        im.pull(f"127.0.0.1:{registry.port}/multi:v1", platform="linux/s390x")


def test_bearer_token_flow_with_credentials(state_root: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(FakeRegistry(auth="bearer")) as reg:
        cfg = tmp_path / "dockercfg"
        cfg.mkdir()
        auth = base64.b64encode(b"alice:secret").decode()
        (cfg / "config.json").write_text(json.dumps(
            {"auths": {f"http://127.0.0.1:{reg.port}": {"auth": auth}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(cfg))
        _publish(reg, "private/app", "v1")
        reg.redirect_blobs = True
        im.pull(f"127.0.0.1:{reg.port}/private/app:v1")
        # blobs came from the "CDN" host, and the registry token never went there
        assert len(reg.cdn_auth_seen) == 4 and set(reg.cdn_auth_seen) == {""}
        assert reg.token_requests, "the token endpoint was never asked"
        first = reg.token_requests[0]
        assert "service=fake" in first and "repository%3Aprivate%2Fapp%3Apull" in first
        assert first.endswith(f"Basic {auth}")


def test_basic_auth(state_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serve(FakeRegistry(auth="basic", user="bob", password="pw")) as reg:
        _publish(reg, "app", "v1")
        with pytest.raises(im.RegistryError, match="no credentials"):
            im.pull(f"127.0.0.1:{reg.port}/app:v1")
        (tmp_path / "config.json").write_text(json.dumps(
            {"auths": {f"127.0.0.1:{reg.port}": {"auth": base64.b64encode(b"bob:pw").decode()}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
        assert im.pull(f"127.0.0.1:{reg.port}/app:v1").config.cmd == ("sh",)


@pytest.mark.parametrize("fault", ["corrupt", "truncate"])
def test_bad_blob_rejected_nothing_left(state_root: Path, registry: FakeRegistry,
                                        fault: str) -> None:
    info = _publish(registry, "bad", "v1")
    getattr(registry, fault).add(info["gz"])
    with pytest.raises(im.CorruptBlob) as err:
        im.pull(f"127.0.0.1:{registry.port}/bad:v1")
    assert info["gz"] in str(err.value)
    assert not blobstore.has_blob(info["gz"])
    assert os.listdir(state_root / "images/tmp") == []
    assert not im.exists(f"127.0.0.1:{registry.port}/bad:v1")


def test_missing_tag_is_clear(state_root: Path, registry: FakeRegistry) -> None:
    with pytest.raises(im.RegistryError, match="MANIFEST_UNKNOWN"):
        im.pull(f"127.0.0.1:{registry.port}/nothing:here")


def test_mirror_is_tried_first(state_root: Path, registry: FakeRegistry,
                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _publish(registry, "library/busybox", "latest")
    settings = tmp_path / "registries.json"
    settings.write_text(json.dumps({"mirrors": {"docker.io": [registry.url]}}))
    monkeypatch.setenv("PYCOMPOSE_REGISTRIES", str(settings))
    img = im.pull("busybox")  # docker.io is unreachable here: only the mirror can answer
    assert "docker.io/library/busybox:latest" in img.repo_tags
    assert any(r.startswith("/v2/library/busybox/manifests/") for r in registry.requests)


def test_cut_connection_is_retried(state_root: Path, registry: FakeRegistry) -> None:
    info = _publish(registry, "flaky", "v1")
    registry.truncate.add(info["gz"])
    registry.truncate_times = 1  # the first GET is cut off, the retry succeeds
    img = im.pull(f"127.0.0.1:{registry.port}/flaky:v1")
    assert blobstore.has_blob(info["gz"]) and img.manifest_digest == info["manifest"]
    assert len([r for r in registry.requests if r.endswith(info["gz"])]) == 2
