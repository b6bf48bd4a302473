"""``commit``: a new image from a container's writable layer on top of its image, like
``docker commit`` (the container is paused meanwhile unless asked not to)."""
from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from engine import containers
from engine.containers import paths
from engine.containers.record import spec_from_json
from engine.errors import EngineError
from engine.images import blobstore, catalog, imagestore, layers
from engine.images.catalog import LayerBlob
from engine.images.model import Image

# Config keys whose values merge with the image's instead of replacing them.
_MERGED = ("Env", "Labels", "ExposedPorts", "Volumes")


def commit(ref: str, parent: str, *, tags: Sequence[str] = (), author: str = "",
           message: str = "", changes: Mapping[str, Any] | None = None,
           pause: bool = True) -> Image:
    """Store the container ``ref``'s changes as a layer over ``parent`` (the image it was
    created from) with ``changes`` applied to the config; return the new image."""
    info = containers.inspect(ref)
    base = imagestore.resolve(parent)
    spec = spec_from_json(info.spec)
    if [str(p) for p in spec.layers] != [str(p) for p in base.layer_dirs]:
        raise EngineError("the container was not created from this image", step="commit",
                          obj=info.name)
    with _paused(info.id, pause and info.state.value == "running"):
        digest, size = layers.store_dir_as_blob(paths.upper_dir(info.id))
    layers.ensure_unpacked(digest, digest)  # uncompressed: the digest is the diff id
    doc = _config(base, author, message, changes or {})
    blobs = [*catalog.layer_blobs_of(base.id),
             LayerBlob(digest, imagestore.OCI_LAYER, size, digest)]
    return imagestore.create_image(doc, blobs, list(tags))


@contextlib.contextmanager
def _paused(cid: str, pause: bool) -> Iterator[None]:
    if pause:
        containers.pause(cid)
    try:
        yield
    finally:
        if pause:
            containers.unpause(cid)


def _config(base: Image, author: str, message: str, changes: Mapping[str, Any]
            ) -> dict[str, Any]:
    doc = json.loads(blobstore.read_blob(base.id))
    config = dict(doc.get("config") or {})
    for key, value in changes.items():
        if key == "Env":
            env = {e.partition("=")[0]: e for e in config.get("Env") or []}
            env.update({e.partition("=")[0]: e for e in value})
            config["Env"] = list(env.values())
        elif key in _MERGED:
            config[key] = {**(config.get(key) or {}), **value}
        else:
            config[key] = value
    created = imagestore.now_iso()
    history = list(doc.get("history") or [])
    history.append({"created": created, "created_by": "pycompose commit",
                    **({"author": author} if author else {}),
                    **({"comment": message} if message else {})})
    doc.update(config=config, created=created, history=history)
    if author:
        doc["author"] = author
    doc.pop("rootfs", None)
    return doc
