"""OCI whiteouts ↔ overlay whiteouts, and concurrent unpacking of the same layer."""
from __future__ import annotations

import io
import os
import tarfile
import threading
from pathlib import Path

import pytest

from engine.images import blobstore, layers

pytestmark = pytest.mark.root


def _tar(entries: list[tuple[str, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_whiteouts_roundtrip(state_root: Path, tmp_path: Path) -> None:
    raw = _tar([("etc", None), ("etc/.wh.passwd", b""), ("var", None), ("var/cache", None),
                ("var/cache/.wh..wh..opq", b""), ("var/cache/new", b"n")])
    digest = blobstore.put_bytes(raw)
    path = layers.ensure_unpacked(digest, digest)
    wh = os.lstat(path / "etc/passwd")
    assert layers.is_whiteout(wh)
    assert layers.is_opaque(path / "var/cache")
    assert not (path / "etc/.wh.passwd").exists()
    # packing the dir gives the OCI form back
    out = io.BytesIO()
    layers.pack_dir(path, out)
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        names = tf.getnames()
    assert "etc/.wh.passwd" in names and "var/cache/.wh..wh..opq" in names
    assert "etc/passwd" not in names


def test_wrong_diff_id_rejected(state_root: Path) -> None:
    digest = blobstore.put_bytes(_tar([("a", b"1")]))
    with pytest.raises(blobstore.CorruptBlob, match="config says"):
        layers.ensure_unpacked(digest, "sha256:" + "0" * 64)
    assert os.listdir(state_root / "images/tmp") == []
    assert not (state_root / "images/layers" / ("0" * 64)).exists()


def test_concurrent_unpack_of_one_layer(state_root: Path) -> None:
    raw = _tar([(f"d/f{i}", os.urandom(2048)) for i in range(300)])
    digest = blobstore.put_bytes(raw)
    results: list[Path] = []
    errors: list[BaseException] = []

    def unpack() -> None:
        try:
            results.append(layers.ensure_unpacked(digest, digest))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=unpack) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1 and len(os.listdir(results[0] / "d")) == 300
    assert os.listdir(state_root / "images/tmp") == []


def test_image_in_use_by_container(state_root: Path, rootfs_tar: Path) -> None:
    import engine.images as im
    from engine import containers
    from engine.errors import Conflict

    image = im.import_rootfs(rootfs_tar, "inuse:1")
    info = containers.create(containers.ContainerSpec(
        name=f"inuse-{os.getpid()}", argv=("/bin/true",), layers=image.layer_dirs))
    try:
        with pytest.raises(Conflict, match=f"in use by inuse-{os.getpid()}"):
            im.remove("inuse:1")
        im.remove("inuse:1", force=True)
        assert not im.exists("inuse:1")
        assert all(d.is_dir() for d in image.layer_dirs)  # the container still stacks them
    finally:
        containers.delete(info.id, force=True)
    from engine.images.imagestore import collect_garbage

    collect_garbage()
    assert not any(d.exists() for d in image.layer_dirs)


def test_pack_skips_sockets_keeps_hardlinks_and_devices(state_root: Path, tmp_path: Path) -> None:
    import socket

    root = tmp_path / "upper"
    root.mkdir()
    (root / "a").write_text("x")
    os.link(root / "a", root / "b")
    os.mknod(root / "null", 0o666 | 0o020000, os.makedev(1, 3))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "sock"))
    try:
        out = io.BytesIO()
        layers.pack_dir(root, out)
    finally:
        sock.close()
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert "sock" not in members
    assert members["b"].islnk() and members["b"].linkname == "a"
    assert members["null"].ischr() and (members["null"].devmajor, members["null"].devminor) == (
        1, 3)


def test_file_capabilities_survive_pack_and_unpack(state_root: Path, tmp_path: Path) -> None:
    root = tmp_path / "caps"
    root.mkdir()
    (root / "ping").write_bytes(b"\x7fELF")
    # a VFS_CAP_REVISION_2 blob granting cap_net_raw (binary, not valid UTF-8)
    cap = bytes.fromhex("01000002" "00200000" "00000000" "00000000" "00000000")
    os.setxattr(root / "ping", "security.capability", cap)
    out = io.BytesIO()
    layers.pack_dir(root, out)
    digest = blobstore.put_bytes(out.getvalue())
    unpacked = layers.ensure_unpacked(digest, digest)
    assert os.getxattr(unpacked / "ping", "security.capability") == cap
