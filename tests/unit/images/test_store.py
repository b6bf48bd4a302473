from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

import engine.images as im
from engine.errors import Conflict, NotFound
from engine.images import blobstore, layers


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _leftovers(root: Path) -> list[str]:
    tmp = root / "images" / "tmp"
    return sorted(os.listdir(tmp)) if tmp.is_dir() else []


def test_blob_roundtrip(state_root: Path) -> None:
    d = blobstore.put_bytes(b"hello")
    assert d == _digest(b"hello")
    assert blobstore.read_blob(d) == b"hello"
    assert (state_root / "images/blobs/sha256" / d[7:]).is_file()


def test_corrupt_blob_rejected_and_nothing_left(state_root: Path) -> None:
    good = b"x" * 5000
    with pytest.raises(im.CorruptBlob, match="digest mismatch"):
        blobstore.ingest_chunks([good[:-1] + b"y"], expected_digest=_digest(good),
                                expected_size=len(good))
    with pytest.raises(im.CorruptBlob, match="truncated"):
        blobstore.ingest_chunks([good[:100]], expected_digest=_digest(good),
                                expected_size=len(good))
    assert not blobstore.has_blob(_digest(good))
    assert blobstore.list_blobs() == []
    assert _leftovers(state_root) == []


def test_interrupted_stream_leaves_nothing(state_root: Path) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b"abc"
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        blobstore.ingest_chunks(chunks(), expected_digest=_digest(b"abcdef"))
    assert blobstore.list_blobs() == [] and _leftovers(state_root) == []


def _rootfs_tar(tmp_path: Path, files: dict[str, bytes], compress: str = "") -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("bin/sh")
        link.type = tarfile.SYMTYPE
        link.linkname = "busybox"
        tf.addfile(link)
    raw = buf.getvalue()
    if compress == "gzip":
        import gzip
        raw = gzip.compress(raw)
    elif compress == "zstd":
        import zstandard
        raw = zstandard.ZstdCompressor().compress(raw)
    path = tmp_path / f"rootfs{compress}.tar"
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize("compress", ["", "gzip", "zstd"])
def test_import_unpacks_once(state_root: Path, tmp_path: Path, compress: str) -> None:
    tar = _rootfs_tar(tmp_path, {"bin/busybox": b"BB", "etc/hostname": b"h\n"}, compress)
    img = im.import_rootfs(tar, "imp:1")
    assert img.repo_tags == ("docker.io/library/imp:1",)
    (layer,) = img.layer_dirs
    assert (layer / "bin/busybox").read_bytes() == b"BB"
    assert os.readlink(layer / "bin/sh") == "busybox"
    assert im.resolve("imp:1").id == img.id == im.resolve(img.id[7:19]).id
    assert im.exists("docker.io/library/imp:1") and not im.exists("imp:2")
    assert im.history("imp:1")[0].created_by == "pycompose image import"


def test_unpack_rejects_escaping_members(state_root: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("../evil")
        tf.addfile(info, io.BytesIO(b""))
    path = tmp_path / "evil.tar"
    path.write_bytes(buf.getvalue())
    with pytest.raises(layers.LayerError, match="escapes"):
        im.import_rootfs(path, "evil:1")
    assert not (tmp_path / "evil").exists()
    assert not any(p for p in (state_root / "images/layers").iterdir()
                   if not p.name.startswith("."))


def test_tag_remove_and_gc(state_root: Path, tmp_path: Path) -> None:
    img = im.import_rootfs(_rootfs_tar(tmp_path, {"a": b"1"}), "one:1")
    im.tag("one:1", "two:2")
    assert set(im.resolve("two:2").repo_tags) == {"docker.io/library/one:1",
                                                   "docker.io/library/two:2"}
    with pytest.raises(Conflict, match="several repositories"):
        im.remove(img.id)
    assert im.remove("two:2") == ["Untagged: docker.io/library/two:2"]
    out = im.remove("one:1")
    assert out[-1] == f"Deleted: {img.id}"
    with pytest.raises(NotFound):
        im.resolve("one:1")
    assert blobstore.list_blobs() == []
    assert [p for p in (state_root / "images/layers").iterdir()] == []
    assert im.list_images() == []


@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_save_load_roundtrip(state_root: Path, tmp_path: Path, fmt: str,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    img = im.import_rootfs(_rootfs_tar(tmp_path, {"f": b"content"}, "gzip"), "rt:1")
    out = tmp_path / f"img-{fmt}.tar"
    im.save(["rt:1"], out, format=fmt)
    with tarfile.open(out) as tf:
        names = set(tf.getnames())
    assert ("manifest.json" in names) == (fmt == "docker-archive")
    assert ("index.json" in names) == (fmt == "oci-archive")
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(other))
    (loaded,) = im.load(out)
    assert loaded.id == img.id
    assert loaded.repo_tags == ("docker.io/library/rt:1",)
    assert (loaded.layer_dirs[0] / "f").read_bytes() == b"content"
    if fmt == "oci-archive":  # the stored manifest travels unchanged, so the digest holds
        assert loaded.manifest_digest == img.manifest_digest


def test_load_rejects_garbage(state_root: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar")
    with pytest.raises(im.ArchiveError, match="cannot read archive"):
        im.load(bad)
    with pytest.raises(im.ArchiveError, match="unknown format"):
        im.save([], tmp_path / "x.tar", format="zip")


def test_sweep_removes_only_stale_scratch(state_root: Path) -> None:
    tmp = blobstore.tmp_dir()
    stale_dir = tmp / ".build-old"
    stale_dir.mkdir()
    (stale_dir / "f").write_text("x")
    stale_file = tmp / ".ingest-old"
    stale_file.write_text("partial")
    fresh = tmp / ".ingest-now"
    fresh.write_text("in progress")
    for p in (stale_dir, stale_file):
        os.utime(p, (0, 0))
    assert blobstore.sweep_tmp() == 2
    assert sorted(os.listdir(tmp)) == [".ingest-now"]
