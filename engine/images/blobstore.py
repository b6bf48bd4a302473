"""Content-addressed blob store (``images/blobs/sha256/<hex>``), OCI image-layout style.

Every write goes to a private temporary file in the same directory tree, is hashed while written,
checked against the expected digest and size, and only then renamed into place. A corrupt or
truncated download therefore never becomes visible, and two processes fetching the same blob
both end with one good copy (rename replaces atomically with identical content).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from engine.errors import EngineError, NotFound
from engine.paths import ensure_dir, state_root

CHUNK = 1 << 20


class CorruptBlob(EngineError):
    """A blob's content does not match its digest or announced size."""


class TruncatedBlob(CorruptBlob):
    """Fewer bytes arrived than announced (a cut connection, or a truncated source)."""


def images_root() -> Path:
    """The image store directory under the state root."""
    return state_root() / "images"


def blobs_dir() -> Path:
    return images_root() / "blobs" / "sha256"


def tmp_dir() -> Path:
    return ensure_dir(images_root() / "tmp")


def check_digest(digest: str) -> str:
    """Validate a ``sha256:<64 hex>`` digest and return its hex part."""
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise EngineError(f"unsupported or malformed digest {digest!r}", step="check digest")
    return hexpart


def blob_path(digest: str) -> Path:
    """Where the blob with ``digest`` lives (it may not exist)."""
    return blobs_dir() / check_digest(digest)


def has_blob(digest: str) -> bool:
    return blob_path(digest).is_file()


def blob_size(digest: str) -> int:
    try:
        return blob_path(digest).stat().st_size
    except FileNotFoundError:
        raise NotFound("blob not in the store", step="stat blob", obj=digest) from None


def open_blob(digest: str) -> IO[bytes]:
    """Open a stored blob for reading."""
    try:
        return open(blob_path(digest), "rb")
    except FileNotFoundError:
        raise NotFound("blob not in the store", step="open blob", obj=digest) from None


def read_blob(digest: str) -> bytes:
    with open_blob(digest) as f:
        return f.read()


def read_json_blob(digest: str) -> Any:
    return json.loads(read_blob(digest))


def put_bytes(data: bytes) -> str:
    """Store ``data`` and return its digest."""
    import hashlib  # (here: reading the store, as every `up` does, needs no OpenSSL)

    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if not has_blob(digest):
        ingest_chunks([data], expected_digest=digest, expected_size=len(data))
    return digest


def put_json(value: Any) -> tuple[str, bytes]:
    """Store a JSON document (compact, as registries expect) and return (digest, bytes)."""
    data = json.dumps(value, separators=(",", ":")).encode()
    return put_bytes(data), data


def ingest_chunks(chunks: Iterable[bytes], *, expected_digest: str | None = None,
                  expected_size: int | None = None,
                  on_progress: Callable[[int], None] | None = None) -> str:
    """Write a stream of chunks as a blob, verifying digest and size; return the digest.

    Raises :class:`CorruptBlob` (and leaves nothing behind) when the content does not match.
    """
    ensure_dir(blobs_dir())
    fd, tmp_name = tempfile.mkstemp(prefix=".ingest-", dir=tmp_dir())
    try:
        digest = _write_hashed(fd, chunks, on_progress)
        size = os.stat(tmp_name).st_size
        where = expected_digest or digest
        if expected_size is not None and expected_size >= 0 and size != expected_size:
            kind = TruncatedBlob if size < expected_size else CorruptBlob
            raise kind(f"size mismatch: got {size} bytes, expected {expected_size} "
                              "(truncated or oversized download)", step="verify blob", obj=where)
        if expected_digest is not None and digest != expected_digest:
            raise CorruptBlob(f"digest mismatch: content hashes to {digest}",
                              step="verify blob", obj=expected_digest)
        os.rename(tmp_name, blob_path(digest))
        return digest
    except BaseException:
        _unlink_quiet(tmp_name)
        raise


def ingest_file(path: Path, *, expected_digest: str | None = None) -> str:
    """Copy a file into the store (verified when ``expected_digest`` is given)."""
    with open(path, "rb") as f:
        return ingest_chunks(iter(lambda: f.read(CHUNK), b""), expected_digest=expected_digest)


def _write_hashed(fd: int, chunks: Iterable[bytes],
                  on_progress: Callable[[int], None] | None) -> str:
    import hashlib

    h = hashlib.sha256()
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            h.update(chunk)
            out.write(chunk)
            if on_progress:
                on_progress(len(chunk))
        out.flush()
        os.fsync(out.fileno())
    return "sha256:" + h.hexdigest()


def _unlink_quiet(name: str) -> None:
    try:
        os.unlink(name)
    except FileNotFoundError:
        pass


def delete_blob(digest: str) -> None:
    """Remove a blob if present."""
    _unlink_quiet(str(blob_path(digest)))


def list_blobs() -> list[str]:
    """Digests of all stored blobs."""
    d = blobs_dir()
    return sorted("sha256:" + p.name for p in d.iterdir()) if d.is_dir() else []


def sweep_tmp(max_age: float = 3600.0) -> int:
    """Remove scratch files and dirs a killed pull, load or build left in ``images/tmp``.

    Only entries older than ``max_age`` seconds go, so work in progress elsewhere is safe.
    """
    tmp = images_root() / "tmp"
    if not tmp.is_dir():
        return 0
    removed = 0
    cutoff = time.time() - max_age
    for entry in tmp.iterdir():
        try:
            if entry.lstat().st_mtime >= cutoff:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()
            removed += 1
        except FileNotFoundError:
            continue
    return removed
