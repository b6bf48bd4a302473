"""The image catalog in the state database: image records, tags and repo digests."""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from engine import store
from engine.errors import Conflict, NotFound
from engine.images import blobstore, layers
from engine.images.configjson import config_from_json
from engine.images.model import Image
from engine.images.reference import InvalidReference, Reference, normalize_reference

store.register_schema("images", """
CREATE TABLE IF NOT EXISTS image_records (
    id TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    config_json TEXT NOT NULL,
    layers_json TEXT NOT NULL,
    size INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS image_tags (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES image_records(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS image_digests (
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES image_records(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS image_tags_by_image ON image_tags(image_id);
CREATE INDEX IF NOT EXISTS image_digests_by_image ON image_digests(image_id);
CREATE TABLE IF NOT EXISTS image_tag_times (
    name TEXT PRIMARY KEY,
    tagged_at REAL NOT NULL
)
""")
# image_tag_times: when each tag was last set (pull, build, load, tag), docker's LastTagTime;
# compose's pull_policy daily/weekly/every_<d> pulls again once it is that old. A table of its
# own so that state databases made before it simply gain it.


@dataclass(frozen=True, slots=True)
class LayerBlob:
    """One layer of a manifest: the stored blob and the uncompressed digest (diff_id)."""

    digest: str
    media_type: str
    size: int
    diff_id: str


def save_record(*, config_bytes: bytes, manifest_digest: str, manifest_media_type: str,
                layer_blobs: list[LayerBlob], tags: list[Reference],
                repo_digests: list[str] | None = None) -> str:
    """Insert or update an image record and point ``tags`` at it; return the image id."""
    image_id = blobstore.put_bytes(config_bytes)
    cfg = json.loads(config_bytes)
    size = sum(layers.uncompressed_size(lb.diff_id) or lb.size for lb in layer_blobs)
    layers_json = store.dumps([_lb_dict(lb) for lb in layer_blobs])
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO image_records VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
            "manifest_digest=excluded.manifest_digest, "
            "manifest_media_type=excluded.manifest_media_type, layers_json=excluded.layers_json,"
            " size=excluded.size",
            (image_id, manifest_digest, manifest_media_type, config_bytes.decode(), layers_json,
             size, cfg.get("created") or ""))
        for ref in tags:
            _write_tag(conn, f"{ref.name}:{ref.tag}", image_id)
        for name in repo_digests or ():
            conn.execute("INSERT OR REPLACE INTO image_digests VALUES (?,?)", (name, image_id))
    return image_id


def _lb_dict(lb: LayerBlob) -> dict[str, Any]:
    return {"digest": lb.digest, "media_type": lb.media_type, "size": lb.size,
            "diff_id": lb.diff_id}


def layer_blobs_of(image_id: str) -> list[LayerBlob]:
    row = _row(image_id)
    return [LayerBlob(**d) for d in json.loads(row["layers_json"])]


def config_bytes_of(image_id: str) -> bytes:
    return str(_row(image_id)["config_json"]).encode()


def manifest_of(image_id: str) -> tuple[str, str]:
    """(manifest digest, media type) of an image."""
    row = _row(image_id)
    return row["manifest_digest"], row["manifest_media_type"]


def _row(image_id: str) -> sqlite3.Row:
    row = store.connect().execute("SELECT * FROM image_records WHERE id=?",
                                  (image_id,)).fetchone()
    if row is None:
        raise NotFound("no such image", step="look up image", obj=image_id)
    return row


def find_image_id(ref: str) -> str:
    """Resolve a tag, a ``repo@digest``, a full id or an unambiguous id prefix to an image id."""
    conn = store.connect()
    text = ref.strip()
    hexpart = text.removeprefix("sha256:")
    if len(hexpart) >= 4 and all(c in "0123456789abcdef" for c in hexpart) and (
            text.startswith("sha256:") or ":" not in text):
        rows = conn.execute("SELECT id FROM image_records WHERE id LIKE ?",
                            (f"sha256:{hexpart}%",)).fetchall()
        if len(rows) == 1:
            return str(rows[0]["id"])
        if len(rows) > 1:
            raise Conflict("ambiguous image id prefix", step="look up image", obj=ref)
    try:
        norm = normalize_reference(text)
    except InvalidReference:
        raise NotFound("no such image", step="look up image", obj=ref) from None
    if norm.digest:
        row = conn.execute("SELECT image_id FROM image_digests WHERE name=?",
                           (f"{norm.name}@{norm.digest}",)).fetchone()
        if row is None:  # a digest can also name a manifest we stored under another name
            row = conn.execute("SELECT id AS image_id FROM image_records WHERE "
                               "manifest_digest=?", (norm.digest,)).fetchone()
    else:
        row = conn.execute("SELECT image_id FROM image_tags WHERE name=?",
                           (f"{norm.name}:{norm.tag}",)).fetchone()
    if row is None:
        raise NotFound("no such image", step="look up image", obj=norm.familiar())
    return str(row["image_id"])


def load_image(image_id: str) -> Image:
    """Build the :class:`Image` value for a stored record."""
    conn = store.connect()
    row = _row(image_id)
    cfg = json.loads(row["config_json"])
    tags = [r["name"] for r in conn.execute(
        "SELECT name FROM image_tags WHERE image_id=? ORDER BY name", (image_id,))]
    digests = [r["name"] for r in conn.execute(
        "SELECT name FROM image_digests WHERE image_id=? ORDER BY name", (image_id,))]
    diff_ids = tuple((cfg.get("rootfs") or {}).get("diff_ids") or ())
    return Image(
        id=image_id,
        repo_tags=tuple(tags),
        repo_digests=tuple(digests),
        config=config_from_json(cfg.get("config")),
        layer_dirs=tuple(layers.layer_path(d) for d in diff_ids),
        diff_ids=diff_ids,
        size=int(row["size"]),
        created=str(row["created"]),
        architecture=cfg.get("architecture") or "",
        os=cfg.get("os") or "",
        manifest_digest=row["manifest_digest"],
    )


def all_image_ids() -> list[str]:
    return [str(r["id"]) for r in store.connect().execute(
        "SELECT id FROM image_records ORDER BY created DESC, id")]


def set_tag(ref: Reference, image_id: str) -> None:
    with store.transaction() as conn:
        _write_tag(conn, f"{ref.name}:{ref.tag}", image_id)


def _write_tag(conn: sqlite3.Connection, name: str, image_id: str) -> None:
    conn.execute("INSERT OR REPLACE INTO image_tags VALUES (?,?)", (name, image_id))
    conn.execute("INSERT OR REPLACE INTO image_tag_times VALUES (?,?)", (name, time.time()))


def tagged_at(ref: str) -> float | None:
    """When tag ``ref`` was last set (unix time); None for an unknown tag or a tag set before
    pycompose recorded the time."""
    try:
        norm = normalize_reference(ref)
    except InvalidReference:
        return None
    row = store.connect().execute("SELECT tagged_at FROM image_tag_times WHERE name=?",
                                  (f"{norm.name}:{norm.tag}",)).fetchone()
    return None if row is None else float(row["tagged_at"])


def delete_tag(name: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM image_tags WHERE name=?", (name,))
        conn.execute("DELETE FROM image_tag_times WHERE name=?", (name,))


def delete_record(image_id: str) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM image_tag_times WHERE name IN (SELECT name FROM image_tags "
                     "WHERE image_id=?)", (image_id,))
        conn.execute("DELETE FROM image_tags WHERE image_id=?", (image_id,))
        conn.execute("DELETE FROM image_digests WHERE image_id=?", (image_id,))
        conn.execute("DELETE FROM image_records WHERE id=?", (image_id,))


def referenced_blobs() -> set[str]:
    """Digests (blobs and diff_ids) still used by some image record."""
    used: set[str] = set()
    for row in store.connect().execute(
            "SELECT id, manifest_digest, layers_json FROM image_records"):
        used.update((row["id"], row["manifest_digest"]))
        for lb in json.loads(row["layers_json"]):
            used.update((lb["digest"], lb["diff_id"]))
    return used


def add_repo_digest(name: str, image_id: str) -> None:
    """Record ``repo@digest`` (after a push) as another name of an image."""
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO image_digests VALUES (?,?)", (name, image_id))
