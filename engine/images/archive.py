"""Image archives: docker-archive (``docker save``) and OCI-layout tarballs, plus rootfs import."""
from __future__ import annotations

import io
import json
import logging
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from engine.errors import EngineError
from engine.images import blobstore, catalog, imagestore, layers
from engine.images.catalog import LayerBlob
from engine.images.model import Image
from engine.images.reference import InvalidReference, normalize_reference

log = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
FORMATS = ("docker-archive", "oci-archive")


class ArchiveError(EngineError):
    """An image archive is malformed or cannot be written."""


# --- save ---------------------------------------------------------------------------------


def save(refs: Sequence[str], path: Path, format: str = "docker-archive") -> None:
    """Write the images named by ``refs`` into one tarball at ``path``."""
    if format not in FORMATS:
        raise ArchiveError(f"unknown format {format!r} (use {' or '.join(FORMATS)})",
                           step="save images", obj=str(path))
    wanted = [(r, catalog.find_image_id(r)) for r in refs]
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tf:
            if format == "docker-archive":
                _write_docker_archive(tf, wanted)
            else:
                _write_oci_archive(tf, wanted)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def _add_file(tf: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size = path.stat().st_size
    info.mode = 0o644
    with open(path, "rb") as f:
        tf.addfile(info, f)


def _tag_name(ref: str, image: Image) -> str | None:
    try:
        norm = normalize_reference(ref)
    except InvalidReference:
        norm = None
    if norm is not None and not norm.digest and f"{norm.name}:{norm.tag}" in image.repo_tags:
        return norm.familiar()
    return None


def _write_docker_archive(tf: tarfile.TarFile, wanted: list[tuple[str, str]]) -> None:
    entries: list[dict[str, Any]] = []
    repositories: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    for ref, image_id in wanted:
        image = catalog.load_image(image_id)
        hexid = image_id.removeprefix("sha256:")
        if image_id not in written:
            _add_bytes(tf, f"{hexid}.json", catalog.config_bytes_of(image_id))
        layer_names = []
        for lb in catalog.layer_blobs_of(image_id):
            name = f"{lb.diff_id.removeprefix('sha256:')}/layer.tar"
            if name not in written:
                with _uncompressed_layer(lb) as plain:
                    _add_file(tf, name, plain)
                written.add(name)
            layer_names.append(name)
        written.add(image_id)
        tag = _tag_name(ref, image)
        tags = [tag] if tag else [normalize_reference(t).familiar() for t in image.repo_tags]
        entries.append({"Config": f"{hexid}.json", "RepoTags": tags, "Layers": layer_names})
        for t in tags:
            repo, _, tg = t.rpartition(":")
            if layer_names:
                repositories.setdefault(repo, {})[tg] = layer_names[-1].split("/")[0]
    _add_bytes(tf, "manifest.json", json.dumps(entries).encode())
    _add_bytes(tf, "repositories", json.dumps(repositories).encode())


@contextmanager
def _uncompressed_layer(lb: LayerBlob) -> Iterator[Path]:
    if lb.digest == lb.diff_id:
        yield blobstore.blob_path(lb.digest)
        return
    fd, name = tempfile.mkstemp(prefix=".layer-", dir=blobstore.tmp_dir())
    try:
        with os.fdopen(fd, "wb") as out, blobstore.open_blob(lb.digest) as raw, \
                layers.open_uncompressed(raw) as plain:
            shutil.copyfileobj(plain, out, blobstore.CHUNK)
        yield Path(name)
    finally:
        os.unlink(name)


def _write_oci_archive(tf: tarfile.TarFile, wanted: list[tuple[str, str]]) -> None:
    manifests: list[dict[str, Any]] = []
    written: set[str] = set()

    def add_blob(digest: str) -> None:
        if digest not in written:
            _add_file(tf, f"blobs/sha256/{digest.removeprefix('sha256:')}",
                      blobstore.blob_path(digest))
            written.add(digest)

    for ref, image_id in wanted:
        image = catalog.load_image(image_id)
        manifest_digest, media_type = catalog.manifest_of(image_id)
        add_blob(image_id)
        for lb in catalog.layer_blobs_of(image_id):
            add_blob(lb.digest)
        add_blob(manifest_digest)
        desc: dict[str, Any] = {"mediaType": media_type, "digest": manifest_digest,
                                "size": blobstore.blob_size(manifest_digest)}
        tag = _tag_name(ref, image) or (
            normalize_reference(image.repo_tags[0]).familiar() if image.repo_tags else None)
        if tag:
            norm = normalize_reference(tag)
            desc["annotations"] = {CONTAINERD_NAME: str(norm), REF_NAME: norm.tag or "latest"}
        manifests.append(desc)
    _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    _add_bytes(tf, "index.json", json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode())


# --- load ---------------------------------------------------------------------------------


class _DirArchive:
    """An unpacked archive (an OCI layout directory, as ``skopeo copy ... oci:DIR`` writes)
    read through the few TarFile methods the loaders use."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def getnames(self) -> list[str]:
        return [str(p.relative_to(self.root)) for p in self.root.rglob("*")]

    def extractfile(self, name: str) -> IO[bytes]:
        path = self.root / name
        if ".." in Path(name).parts or not path.is_file():
            raise KeyError(name)
        return open(path, "rb")

    def __enter__(self) -> _DirArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def load(path: Path, tag: str | None = None) -> list[Image]:
    """Load every image of a docker-archive or OCI-layout tarball (or OCI layout directory);
    return them.

    ``tag`` names the image when the archive carries no usable name (an OCI layout whose
    ``ref.name`` is only a tag, as skopeo writes).
    """
    try:
        tf: Any = _DirArchive(path) if path.is_dir() else tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError) as exc:
        raise ArchiveError(f"cannot read archive: {exc}", step="load images",
                           obj=str(path)) from exc
    with tf:
        names = set(tf.getnames())
        norm_names = {n.removeprefix("./") for n in names}
        if "manifest.json" in norm_names:
            return _load_docker_archive(tf, path, tag)
        if "index.json" in norm_names:
            return _load_oci_archive(tf, path, tag)
    raise ArchiveError("neither a docker-archive (manifest.json) nor an OCI layout (index.json)",
                       step="load images", obj=str(path))


def _member(tf: tarfile.TarFile, name: str, archive: Path) -> IO[bytes]:
    for candidate in (name, f"./{name}"):
        try:
            f = tf.extractfile(candidate)
        except KeyError:
            continue
        if f is not None:
            return f
    raise ArchiveError(f"missing member {name!r}", step="load images", obj=str(archive))


def _read_json(tf: tarfile.TarFile, name: str, archive: Path) -> Any:
    with _member(tf, name, archive) as f:
        return json.loads(f.read())


def _ingest_member(tf: tarfile.TarFile, name: str, archive: Path,
                   expected: str | None = None) -> str:
    with _member(tf, name, archive) as f:
        return blobstore.ingest_chunks(iter(lambda: f.read(blobstore.CHUNK), b""),
                                       expected_digest=expected)


def layer_media_type(digest: str) -> str:
    """Guess a stored layer's media type from its magic bytes."""
    with blobstore.open_blob(digest) as f:
        magic = f.read(4)
    if magic.startswith(b"\x1f\x8b"):
        return imagestore.OCI_LAYER_GZIP
    if magic == b"\x28\xb5\x2f\xfd":
        return "application/vnd.oci.image.layer.v1.tar+zstd"
    return imagestore.OCI_LAYER


def _load_docker_archive(tf: tarfile.TarFile, archive: Path, tag: str | None) -> list[Image]:
    out = []
    for entry in _read_json(tf, "manifest.json", archive):
        config_digest = _ingest_member(tf, entry["Config"], archive)
        config_bytes = blobstore.read_blob(config_digest)
        diff_ids = json.loads(config_bytes).get("rootfs", {}).get("diff_ids", [])
        if len(diff_ids) != len(entry["Layers"]):
            raise ArchiveError("config lists a different number of layers than manifest.json",
                               step="load images", obj=str(archive))
        blobs = []
        for name, diff_id in zip(entry["Layers"], diff_ids, strict=True):
            digest = _ingest_member(tf, name, archive)
            blobs.append(LayerBlob(digest, layer_media_type(digest),
                                   blobstore.blob_size(digest), diff_id))
            layers.ensure_unpacked(digest, diff_id)
        tags = list(entry.get("RepoTags") or []) or ([tag] if tag else [])
        out.append(_record(config_bytes, blobs, tags, manifest=None))
    return out


def _record(config_bytes: bytes, blobs: list[LayerBlob], tags: list[str],
            manifest: tuple[str, str] | None) -> Image:
    if manifest is None:
        config_digest = blobstore.put_bytes(config_bytes)
        doc = {"schemaVersion": 2, "mediaType": imagestore.OCI_MANIFEST,
               "config": {"mediaType": imagestore.OCI_CONFIG, "digest": config_digest,
                          "size": len(config_bytes)},
               "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size}
                          for b in blobs]}
        manifest = (blobstore.put_json(doc)[0], imagestore.OCI_MANIFEST)
    refs = [normalize_reference(t) for t in tags]
    image_id = catalog.save_record(config_bytes=config_bytes, manifest_digest=manifest[0],
                                   manifest_media_type=manifest[1], layer_blobs=blobs,
                                   tags=refs)
    return catalog.load_image(image_id)


def _load_oci_archive(tf: tarfile.TarFile, archive: Path, tag: str | None) -> list[Image]:
    index = _read_json(tf, "index.json", archive)
    out = []
    for desc in index.get("manifests", []):
        desc = _select_manifest(tf, archive, desc)
        name = _oci_name(desc.get("annotations") or {}, tag)
        out.append(_load_oci_manifest(tf, archive, desc, [name] if name else []))
    return out


def _blob_name(digest: str) -> str:
    return f"blobs/sha256/{blobstore.check_digest(digest)}"


def _select_manifest(tf: tarfile.TarFile, archive: Path, desc: dict[str, Any]) -> dict[str, Any]:
    from engine.images.registry.platform import select_platform

    while desc.get("mediaType") in (OCI_INDEX, DOCKER_LIST):
        digest = _ingest_member(tf, _blob_name(desc["digest"]), archive, desc["digest"])
        inner = select_platform(blobstore.read_json_blob(digest), None)
        inner.setdefault("annotations", desc.get("annotations") or {})
        desc = inner
    return desc


def _oci_name(annotations: dict[str, str], tag: str | None) -> str | None:
    if tag:
        return tag
    for key in (CONTAINERD_NAME, REF_NAME):
        value = annotations.get(key)
        if value and ("/" in value or ":" in value):
            try:
                normalize_reference(value)
                return value
            except InvalidReference:
                continue
    return None


def _load_oci_manifest(tf: tarfile.TarFile, archive: Path, desc: dict[str, Any],
                       tags: list[str]) -> Image:
    mdigest = _ingest_member(tf, _blob_name(desc["digest"]), archive, desc["digest"])
    manifest = blobstore.read_json_blob(mdigest)
    cdigest = manifest["config"]["digest"]
    _ingest_member(tf, _blob_name(cdigest), archive, cdigest)
    config_bytes = blobstore.read_blob(cdigest)
    diff_ids = json.loads(config_bytes).get("rootfs", {}).get("diff_ids", [])
    blobs = []
    for ldesc, diff_id in zip(manifest.get("layers", []), diff_ids, strict=True):
        _ingest_member(tf, _blob_name(ldesc["digest"]), archive, ldesc["digest"])
        blobs.append(LayerBlob(ldesc["digest"], ldesc["mediaType"], int(ldesc["size"]), diff_id))
        layers.ensure_unpacked(ldesc["digest"], diff_id)
    media_type = manifest.get("mediaType") or desc.get("mediaType") or imagestore.OCI_MANIFEST
    return _record(config_bytes, blobs, tags, manifest=(mdigest, media_type))


# --- import -------------------------------------------------------------------------------


def import_rootfs(tar_path: Path, ref: str | None = None, *,
                  changes: dict[str, Any] | None = None, message: str = "") -> Image:
    """Import a root filesystem tarball (plain, gzip or zstd) as a single-layer image."""
    try:
        digest = blobstore.ingest_file(tar_path)
    except FileNotFoundError:
        raise ArchiveError("no such file", step="import rootfs", obj=str(tar_path)) from None
    diff_id = layers.compute_diff_id(digest)
    layers.ensure_unpacked(digest, diff_id)
    created = imagestore.now_iso()
    config = {"created": created, "config": changes or {},
              "history": [{"created": created, "created_by": "pycompose image import",
                           "comment": message or f"imported from {tar_path.name}"}]}
    lb = LayerBlob(digest, layer_media_type(digest), blobstore.blob_size(digest), diff_id)
    return imagestore.create_image(config, [lb], [ref] if ref else [])
