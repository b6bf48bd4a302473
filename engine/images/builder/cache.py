"""The build cache: (parent layers, config, instruction, source hash) → produced layer."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from typing import Any

from engine import store
from engine.images import blobstore, imagestore, layers
from engine.images.catalog import LayerBlob

store.register_schema("images.build_cache", """
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    diff_id TEXT NOT NULL,
    created REAL NOT NULL
)
""")


def cache_key(parent: list[str], config: dict[str, Any], instruction: str, extra: str) -> str:
    """A digest of everything a layer-producing step depends on."""
    doc = json.dumps([parent, config, instruction, extra], sort_keys=True)
    return "sha256:" + hashlib.sha256(doc.encode()).hexdigest()


def lookup(key: str) -> tuple[LayerBlob, str] | None:
    """The cached layer for ``key`` and when it was made, if its blob and dir still exist."""
    row = store.connect().execute("SELECT * FROM build_cache WHERE key=?", (key,)).fetchone()
    if row is None:
        return None
    lb = LayerBlob(row["digest"], row["media_type"], int(row["size"]), row["diff_id"])
    if not blobstore.has_blob(lb.digest) or not layers.layer_path(lb.diff_id).is_dir():
        return None
    return lb, _iso(float(row["created"]))


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def remember(key: str, lb: LayerBlob) -> str:
    """Record a produced layer; return its creation time (ISO), as a later hit reports it."""
    now = time.time()
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO build_cache VALUES (?,?,?,?,?,?)",
                     (key, lb.digest, lb.media_type, lb.size, lb.diff_id, now))
    return _iso(now)


def cached_digests() -> set[str]:
    """Blobs and layers the cache still points at (kept by garbage collection)."""
    out: set[str] = set()
    for row in store.connect().execute("SELECT digest, diff_id FROM build_cache"):
        out.update((row["digest"], row["diff_id"]))
    return out


def prune() -> int:
    """Forget the whole build cache; garbage collection then frees its layers."""
    with store.transaction() as conn:
        n = conn.execute("DELETE FROM build_cache").rowcount
    imagestore.collect_garbage()
    return int(n)


imagestore.register_gc_root(cached_digests)
