"""Local image operations: create, resolve, tag, remove, list, history."""
from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import Conflict, NotFound
from engine.images import blobstore, catalog, layers
from engine.images.catalog import LayerBlob
from engine.images.model import HistoryEntry, Image
from engine.images.reference import normalize_reference

log = logging.getLogger(__name__)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

# Other engine modules (containers) may register a check returning the users of an image id,
# so that removing an image in use is refused unless forced.
_usage_checks: list[Callable[[str], list[str]]] = []


_gc_roots: list[Callable[[], set[str]]] = []


def register_gc_root(roots: Callable[[], set[str]]) -> None:
    """Register a function returning digests garbage collection must keep (build cache)."""
    _gc_roots.append(roots)


def register_usage_check(check: Callable[[str], list[str]]) -> None:
    """Register a function returning the names of containers using an image id."""
    _usage_checks.append(check)


def host_arch() -> str:
    """The OCI architecture name of this host (``amd64``, ``arm64`` ...)."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "i386": "386", "ppc64le": "ppc64le", "s390x": "s390x"}.get(machine, machine)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def create_image(config: dict[str, Any], layer_blobs: list[LayerBlob],
                 tags: list[str] | tuple[str, ...] = ()) -> Image:
    """Store an image made here (import, build): write config and OCI manifest, record it.

    ``config`` is the whole image config document; ``rootfs.diff_ids`` is filled in from
    ``layer_blobs``. Each layer must already be stored and unpacked.
    """
    doc = dict(config)
    doc.setdefault("architecture", host_arch())
    doc.setdefault("os", "linux")
    doc.setdefault("created", now_iso())
    doc["rootfs"] = {"type": "layers", "diff_ids": [lb.diff_id for lb in layer_blobs]}
    config_digest, config_bytes = blobstore.put_json(doc)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": lb.media_type, "digest": lb.digest, "size": lb.size}
                   for lb in layer_blobs],
    }
    manifest_digest, _ = blobstore.put_json(manifest)
    refs = [normalize_reference(t) for t in tags]
    image_id = catalog.save_record(config_bytes=config_bytes, manifest_digest=manifest_digest,
                                   manifest_media_type=OCI_MANIFEST, layer_blobs=layer_blobs,
                                   tags=refs)
    return catalog.load_image(image_id)


def resolve(ref: str) -> Image:
    """Return the local image named by a tag, digest or id; raise NotFound if absent."""
    return catalog.load_image(catalog.find_image_id(ref))


def exists(ref: str) -> bool:
    """True when ``ref`` names a local image."""
    try:
        catalog.find_image_id(ref)
        return True
    except NotFound:
        return False


def last_tagged(ref: str) -> float | None:
    """When tag ``ref`` was last set by a pull, build, load or tag (unix time), None if never
    recorded (docker's LastTagTime)."""
    return catalog.tagged_at(ref)


def tag(src: str, dst: str) -> Image:
    """Point tag ``dst`` at the image named by ``src``."""
    image_id = catalog.find_image_id(src)
    ref = normalize_reference(dst)
    if ref.digest:
        raise Conflict("cannot tag with a digest", step="tag image", obj=dst)
    catalog.set_tag(ref, image_id)
    return catalog.load_image(image_id)


def list_images() -> list[Image]:
    """All local images, newest first."""
    return [catalog.load_image(i) for i in catalog.all_image_ids()]


def history(ref: str) -> list[HistoryEntry]:
    """The image's history, newest first (like ``docker history``)."""
    image_id = catalog.find_image_id(ref)
    cfg = json.loads(catalog.config_bytes_of(image_id))
    blobs = iter(catalog.layer_blobs_of(image_id))
    out: list[HistoryEntry] = []
    for h in cfg.get("history") or []:
        empty = bool(h.get("empty_layer"))
        size = 0 if empty else getattr(next(blobs, None), "size", 0)
        out.append(HistoryEntry(created=h.get("created", ""), created_by=h.get("created_by", ""),
                                empty_layer=empty, comment=h.get("comment", ""), size=size))
    return list(reversed(out))


def remove(ref: str, force: bool = False) -> list[str]:
    """Untag or delete an image, like ``docker rmi``; return what was untagged/deleted.

    Removing by tag only drops that tag while others remain; removing by id with several tags
    needs ``force``. Blobs and unpacked layers no other image uses are deleted.
    """
    image_id = catalog.find_image_id(ref)
    image = catalog.load_image(image_id)
    stacks = _container_layer_stacks()
    users = [name for name, stack in stacks if stack == tuple(map(str, image.layer_dirs))]
    users += [u for check in _usage_checks for u in check(image_id)]
    by_tag = _tag_name_of(ref, image)
    done: list[str] = []
    if by_tag and len(image.repo_tags) > 1:
        catalog.delete_tag(by_tag)
        return [f"Untagged: {by_tag}"]
    if users and not force:
        raise Conflict(f"image is in use by {', '.join(users)}", step="remove image", obj=ref)
    if not by_tag and len(image.repo_tags) > 1 and not force:
        raise Conflict("image is referenced in several repositories (use force)",
                       step="remove image", obj=ref)
    done += [f"Untagged: {t}" for t in image.repo_tags]
    catalog.delete_record(image_id)
    done.append(f"Deleted: {image_id}")
    collect_garbage()
    return done


def _container_layer_stacks() -> list[tuple[str, tuple[str, ...]]]:
    """(container name, its layer dirs) for every container the engine knows."""
    from engine import containers

    infos = containers.list_containers()
    return [(info.name, tuple(str(p) for p in info.spec.get("layers") or ()))
            for info in infos]


def _tag_name_of(ref: str, image: Image) -> str | None:
    try:
        norm = normalize_reference(ref)
    except Exception:
        return None
    name = f"{norm.name}:{norm.tag}"
    return name if not norm.digest and name in image.repo_tags else None


def collect_garbage() -> int:
    """Delete blobs and layer dirs no image record references; return how many."""
    import engine.images.builder.cache  # noqa: F401  (registers the build cache's roots)

    removed = blobstore.sweep_tmp()
    used = catalog.referenced_blobs()
    for roots in _gc_roots:
        used |= roots()
    for digest in blobstore.list_blobs():
        if digest not in used:
            blobstore.delete_blob(digest)
            removed += 1
    in_use = {p for _, stack in _container_layer_stacks() for p in stack}
    ldir = layers.layers_dir()
    if ldir.is_dir():
        for path in ldir.iterdir():
            if str(path) in in_use:  # a container's rootfs still stacks it
                continue
            if f"sha256:{path.name}" not in used and not path.name.startswith("."):
                shutil.rmtree(path, ignore_errors=True)
                removed += 1
    return removed


def prune(*, all_unused: bool = False) -> list[str]:
    """Delete dangling images (no tag), or with ``all_unused`` every image no container
    uses; return the deleted ids. Layers nothing references any more are freed."""
    stacks = {stack for _, stack in _container_layer_stacks()}
    deleted = []
    for image in list_images():
        if image.repo_tags and not all_unused:
            continue
        if tuple(map(str, image.layer_dirs)) in stacks:
            continue
        catalog.delete_record(image.id)
        deleted.append(image.id)
    collect_garbage()
    return deleted


def mount_layers(ref: str, subpath: str | None = None) -> tuple[str, ...]:
    """The directories that show image ``ref`` (or its ``subpath``) when stacked read-only,
    lowest first: an image mount (compose ``volumes: type: image``). Layers above a whiteout
    or a non-directory at the subpath end the stack; an opaque directory is the last one.
    NotFound when the image lacks the subpath."""
    image = resolve(ref)
    rel = (subpath or "").strip("/")
    parts = [p for p in rel.split("/") if p]
    if ".." in parts:
        raise NotFound("an image subpath cannot leave the image", step="image mount",
                       obj=f"{ref}:{subpath}")
    picked: list[str] = []
    for layer in reversed(image.layer_dirs):  # top first
        verdict = _layer_view(layer, parts)
        if verdict == "hidden":
            break
        if verdict in ("dir", "opaque"):
            picked.append(str(layer.joinpath(*parts)) if parts else str(layer))
            if verdict == "opaque":
                break
    if not picked:
        raise NotFound(f"subpath {subpath!r} does not exist in image {ref}", step="image mount",
                       obj=ref)
    return tuple(reversed(picked))


def _layer_view(layer: Path, parts: list[str]) -> str:
    """What one layer says about the subpath: absent, dir, opaque (a dir hiding what is below
    it), or hidden (a whiteout, a non-directory, or an opaque parent without it: the layers
    below cannot show it)."""
    path, sealed = layer, False
    for part in parts:
        if path != layer and layers.is_opaque(path):
            sealed = True
        path = path / part
        try:
            st = path.lstat()
        except FileNotFoundError:
            return "hidden" if sealed else "absent"
        if layers.is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
            return "hidden"
    return "opaque" if sealed or (parts and layers.is_opaque(path)) else "dir"
