"""Content digests of build-context files, memoized by (device, inode, size, mtime, ctime).

Hashing the whole context on every build would make a cached rebuild of a large context slow;
a file whose inode metadata is unchanged keeps its digest (nanosecond mtime and ctime make a
same-size rewrite visible).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from engine import store

store.register_schema("images.filehash", """
CREATE TABLE IF NOT EXISTS context_file_hashes (
    path TEXT PRIMARY KEY,
    stamp TEXT NOT NULL,
    digest TEXT NOT NULL
)
""")


def _stamp(st: os.stat_result) -> str:
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def file_digest(path: Path, st: os.stat_result) -> str:
    """sha256 of a regular file's content, from the memo when its metadata is unchanged."""
    conn = store.connect()
    stamp = _stamp(st)
    row = conn.execute("SELECT stamp, digest FROM context_file_hashes WHERE path=?",
                       (str(path),)).fetchone()
    if row is not None and row["stamp"] == stamp:
        return str(row["digest"])
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    digest = h.hexdigest()
    with store.transaction(conn):
        conn.execute("INSERT OR REPLACE INTO context_file_hashes VALUES (?,?,?)",
                     (str(path), stamp, digest))
    return digest
