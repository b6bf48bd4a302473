"""Layers: unpack a layer blob once into an OverlayFS lower dir, and pack a directory as a layer.

OCI whiteouts become overlay whiteouts when unpacking (``.wh.name`` → char device 0:0 named
``name``; ``.wh..wh..opq`` → ``trusted.overlay.opaque=y`` on the directory) and the reverse when
packing an overlay upper dir.
"""
from __future__ import annotations

import io
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from engine import store
from engine.errors import EngineError
from engine.images import blobstore
from engine.paths import ensure_dir

if TYPE_CHECKING:  # tarfile, gzip and zstandard load when a layer is (un)packed: not for
    import tarfile  # every command that only reads the image catalog (~20 ms)

WH_PREFIX = ".wh."
WH_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
USER_OPAQUE_XATTR = "user.overlay.opaque"  # rootless: overlay mounted with userxattr
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class LayerError(EngineError):
    """A layer could not be unpacked or packed."""


store.register_schema("images.layers", """
CREATE TABLE IF NOT EXISTS layer_sizes (diff_id TEXT PRIMARY KEY, size INTEGER NOT NULL)
""")


def record_size(diff_id: str, size: int) -> None:
    """Remember a layer's uncompressed size (what ``docker images`` adds up)."""
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO layer_sizes VALUES (?,?)", (diff_id, size))


def uncompressed_size(diff_id: str) -> int | None:
    row = store.connect().execute("SELECT size FROM layer_sizes WHERE diff_id=?",
                                  (diff_id,)).fetchone()
    return None if row is None else int(row["size"])


def layers_dir() -> Path:
    return blobstore.images_root() / "layers"


def _sha256() -> Any:
    """A hashlib SHA-256 object (OpenSSL's, fast on layers), imported when a layer is read or
    written: every `up` imports this module, few of them touch a layer."""
    import hashlib

    return hashlib.sha256()


def layer_path(diff_id: str) -> Path:
    """Directory holding the unpacked layer with uncompressed digest ``diff_id``."""
    return layers_dir() / blobstore.check_digest(diff_id)


class _HashingReader(io.RawIOBase):
    """A read-only stream that hashes what passes through it."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.hash = _sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buf))
        self.hash.update(data)
        self.count += len(data)
        buf[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.inner.read(blobstore.CHUNK):
            pass

    def drain_hashing(self) -> str:
        while chunk := self.inner.read(blobstore.CHUNK):
            self.hash.update(chunk)
            self.count += len(chunk)
        return "sha256:" + self.hash.hexdigest()


def open_uncompressed(raw: IO[bytes]) -> IO[bytes]:
    """Wrap a layer stream so that it reads as a plain tar (gzip and zstd are sniffed)."""
    import gzip

    import zstandard

    buffered = io.BufferedReader(raw, buffer_size=blobstore.CHUNK)  # type: ignore[arg-type,type-var]
    magic = buffered.peek(4)[:4]
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=buffered)  # type: ignore[return-value]
    if magic == _ZSTD_MAGIC:
        return zstandard.ZstdDecompressor().stream_reader(buffered)  # type: ignore[return-value]
    return buffered


def compute_diff_id(blob_digest: str) -> str:
    """The sha256 of a stored layer blob's uncompressed content."""
    h = _sha256()
    with blobstore.open_blob(blob_digest) as raw, open_uncompressed(raw) as plain:
        while chunk := plain.read(blobstore.CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def ensure_unpacked(blob_digest: str, diff_id: str) -> Path:
    """Unpack a stored layer blob into its lower dir unless done already; return the dir.

    The tar is extracted into a private temporary directory and renamed into place, so
    concurrent unpacks of the same layer are safe and an interrupted one leaves nothing.
    """
    dest = layer_path(diff_id)
    if dest.is_dir():
        return dest
    ensure_dir(layers_dir())
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=blobstore.tmp_dir()))
    try:
        with blobstore.open_blob(blob_digest) as raw, open_uncompressed(raw) as plain:
            reader = _HashingReader(plain)
            extract_tar(io.BufferedReader(reader, blobstore.CHUNK), tmp, obj=blob_digest)
            got = reader.drain_hashing()
        if got != diff_id:
            raise blobstore.CorruptBlob(f"uncompressed content hashes to {got}, config says "
                                        f"{diff_id}", step="verify layer", obj=blob_digest)
        os.chmod(tmp, 0o755)
        record_size(diff_id, reader.count)
        _rename_into(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _rename_into(tmp: Path, dest: Path) -> None:
    try:
        os.rename(tmp, dest)
    except OSError:
        if not dest.is_dir():  # not a lost race: a real failure
            raise


def adopt_dir(src: Path, diff_id: str) -> Path:
    """Move an already-unpacked directory (a build step's result) into the layer store."""
    dest = layer_path(diff_id)
    ensure_dir(layers_dir())
    if dest.is_dir():
        shutil.rmtree(src, ignore_errors=True)
        return dest
    _rename_into(src, dest)
    if src.exists():
        shutil.rmtree(src, ignore_errors=True)
    return dest


def _safe_target(root: Path, name: str, obj: str) -> Path:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise LayerError(f"member {name!r} escapes the layer root", step="unpack layer", obj=obj)
    cur = root
    for p in parts[:-1]:
        cur = cur / p
        if cur.is_symlink():
            raise LayerError(f"member {name!r} goes through symlink {p!r}",
                             step="unpack layer", obj=obj)
    return root.joinpath(*parts) if parts else root


def extract_tar(stream: IO[bytes], root: Path, *, obj: str) -> None:
    """Extract a (plain) layer tar stream into ``root``, converting OCI whiteouts."""
    import tarfile

    try:
        with tarfile.open(fileobj=stream, mode="r|") as tf:
            extract_members(tf, root, obj=obj)
    except tarfile.TarError as exc:
        raise LayerError(f"bad tar stream: {exc}", step="unpack layer", obj=obj) from exc


def extract_members(tf: tarfile.TarFile, root: Path, *, obj: str) -> None:
    """Extract all members of an open tar into ``root`` safely (no escaping the root)."""
    for member in tf:
        _extract_member(tf, member, root, obj)


def _extract_member(tf: tarfile.TarFile, member: tarfile.TarInfo, root: Path, obj: str) -> None:
    target = _safe_target(root, member.name, obj)
    base = target.name
    if base == WH_OPAQUE:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.setxattr(target.parent, opaque_xattr(), b"y")
        return
    if base.startswith(WH_PREFIX):
        _make_whiteout(target.with_name(base[len(WH_PREFIX):]))
        return
    if member.islnk():
        link_src = _safe_target(root, member.linkname, obj)
        member = _copy_info(member)
        member.linkname = str(link_src.relative_to(root))
    if target == root:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if (target.exists() or target.is_symlink()) and not (member.isdir() and target.is_dir()):
        _remove_path(target)
    rel = str(target.relative_to(root))
    member.name = rel
    tf.extract(member, root, set_attrs=True, numeric_owner=True)
    _apply_xattrs(target, member)


def _copy_info(member: tarfile.TarInfo) -> tarfile.TarInfo:
    import tarfile

    clone = tarfile.TarInfo(member.name)
    for attr in ("size", "mode", "uid", "gid", "mtime", "type", "linkname", "uname", "gname",
                 "pax_headers", "devmajor", "devminor"):
        setattr(clone, attr, getattr(member, attr))
    return clone


def _apply_xattrs(target: Path, member: tarfile.TarInfo) -> None:
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(target, key.removeprefix("SCHILY.xattr."),
                            value.encode("utf-8", "surrogateescape"), follow_symlinks=False)
            except OSError:
                pass  # unsupported xattr namespace on this filesystem: contents still usable


def _make_whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        _remove_path(path)
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(0, 0))


def _remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def is_whiteout(st: os.stat_result) -> bool:
    """True for an overlay whiteout (a char device 0:0)."""
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def opaque_xattr() -> str:
    """The opaque-directory xattr overlay reads: ``trusted.`` as root, ``user.`` rootless
    (trusted.* needs CAP_SYS_ADMIN in the initial user namespace)."""
    from engine.rootless import detect

    return USER_OPAQUE_XATTR if detect.rootless() else OPAQUE_XATTR


def is_opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, opaque_xattr(), follow_symlinks=False) == b"y"
    except OSError:
        return False


def iter_tree(root: Path) -> Iterator[Path]:
    """Paths below ``root`` in a stable order (parents before children)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        entries = sorted(dirnames + filenames)
        for name in entries:
            yield base / name


def _xattr_headers(path: Path) -> dict[str, str]:
    """File capabilities and other xattrs as PAX records (overlay's own ones excluded)."""
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name.startswith(("trusted.overlay.", "user.overlay.")):
            continue
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out[f"SCHILY.xattr.{name}"] = value.decode("utf-8", "surrogateescape")
    return out


def pack_dir(root: Path, out: IO[bytes]) -> None:
    """Write ``root`` as a layer tar to ``out``; overlay whiteouts become OCI whiteouts."""
    import tarfile

    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for path in iter_tree(root):
            arc = str(path.relative_to(root))
            st = os.lstat(path)
            if is_whiteout(st):
                info = tarfile.TarInfo(str(Path(arc).with_name(WH_PREFIX + path.name)))
                info.mtime = int(st.st_mtime)
                tf.addfile(info)
                continue
            info = tf.gettarinfo(str(path), arcname=arc)
            if info is None:  # sockets cannot be stored in a tar (docker drops them too)
                continue
            info.uname = info.gname = ""
            info.pax_headers = _xattr_headers(path)
            if info.isreg():
                with open(path, "rb") as f:
                    tf.addfile(info, f)
            else:
                tf.addfile(info)
            if info.isdir() and is_opaque(path):
                opq = tarfile.TarInfo(f"{arc}/{WH_OPAQUE}")
                opq.mtime = int(st.st_mtime)
                tf.addfile(opq)


class _HashingWriter(io.RawIOBase):
    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.hash = _sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.hash.update(data)
        self.size += len(data)
        self.inner.write(data)
        return len(data)


def store_dir_as_blob(root: Path) -> tuple[str, int]:
    """Pack ``root`` as an uncompressed layer tar into the blob store; return (digest, size).

    For an uncompressed layer the blob digest is also its diff_id.
    """
    blobstore.ensure_dir(blobstore.blobs_dir())
    fd, tmp_name = tempfile.mkstemp(prefix=".pack-", dir=blobstore.tmp_dir())
    try:
        with os.fdopen(fd, "wb") as f:
            writer = _HashingWriter(f)
            pack_dir(root, writer)  # type: ignore[arg-type]
        digest = "sha256:" + writer.hash.hexdigest()
        os.rename(tmp_name, blobstore.blob_path(digest))
        return digest, writer.size
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise
