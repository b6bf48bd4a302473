"""Push a local image to a registry (blob uploads, then the manifest; digests cross-checked)."""
from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable

from engine.images import blobstore, catalog
from engine.images.model import Progress
from engine.images.reference import InvalidReference, Reference, normalize_reference
from engine.images.registry.client import Client, RegistryError
from engine.images.registry.pull import endpoints_for, make_client

log = logging.getLogger(__name__)
ProgressFn = Callable[[Progress], None]
# Blobs above this size go up in PATCH chunks instead of one PUT.
CHUNK_THRESHOLD = 32 << 20
UPLOAD_CHUNK = 16 << 20


def push(ref: str, *, progress: ProgressFn | None = None, source: str | None = None) -> str:
    """Push the local image ``source`` (default: ``ref``) as ``ref``; return the manifest digest."""
    norm = normalize_reference(ref)
    image_id = catalog.find_image_id(source or ref)
    client = make_client(endpoints_for(norm, for_push=True)[-1], norm, actions="pull,push")
    manifest_digest, media_type = catalog.manifest_of(image_id)
    mount_from = _sibling_repo(image_id, norm)
    for lb in catalog.layer_blobs_of(image_id):
        upload_blob(client, lb.digest, progress, mount_from)
    upload_blob(client, image_id, progress, mount_from)
    body = blobstore.read_blob(manifest_digest)
    with client.request("PUT", f"/v2/{norm.path}/manifests/{norm.reference}",
                        headers={"Content-Type": media_type}, data=body,
                        step="push manifest", obj=str(norm)) as resp:
        remote = resp.headers.get("Docker-Content-Digest")
    if remote and remote != manifest_digest:
        raise RegistryError(f"registry stored the manifest as {remote}, expected "
                            f"{manifest_digest}", step="push manifest", obj=str(norm))
    catalog.add_repo_digest(f"{norm.name}@{manifest_digest}", image_id)
    if progress:
        progress(Progress(str(norm), f"Pushed {manifest_digest}"))
    return manifest_digest


def _sibling_repo(image_id: str, target: Reference) -> str | None:
    """Another repository on the same registry known to hold this image (for blob mounts)."""
    image = catalog.load_image(image_id)
    for name in image.repo_digests + image.repo_tags:
        try:
            ref = normalize_reference(name)
        except InvalidReference:
            continue
        if ref.domain == target.domain and ref.path != target.path:
            return ref.path
    return None


def _try_mount(client: Client, digest: str, mount_from: str) -> str | None:
    """Ask the registry to link the blob from ``mount_from``; None when mounted, else the
    upload location it opened instead."""
    query = urllib.parse.urlencode({"mount": digest, "from": mount_from})
    try:
        with client.request("POST", f"/v2/{client.repo}/blobs/uploads/?{query}", data=b"",
                            step="mount blob", obj=digest) as resp:
            return None if resp.status == 201 else resp.headers["Location"]
    except RegistryError as exc:  # mounting is an optimisation: fall back to uploading
        log.info("cannot mount %s from %s: %s", digest, mount_from, exc)
        return ""


def blob_exists(client: Client, digest: str) -> bool:
    try:
        with client.request("HEAD", f"/v2/{client.repo}/blobs/{digest}", step="check blob",
                            obj=digest):
            return True
    except RegistryError as exc:
        if exc.status == 404:
            return False
        raise


def upload_blob(client: Client, digest: str, progress: ProgressFn | None,
                mount_from: str | None = None) -> None:
    """Upload one stored blob unless the registry has it (mounted from a sibling repository
    when possible, else monolithic or chunked)."""
    size = blobstore.blob_size(digest)
    if blob_exists(client, digest):
        if progress:
            progress(Progress(digest, "Layer already exists", size, size))
        return
    location = _try_mount(client, digest, mount_from) if mount_from else ""
    if location is None:
        if progress:
            progress(Progress(digest, f"Mounted from {mount_from}", size, size))
        return
    if not location:
        with client.request("POST", f"/v2/{client.repo}/blobs/uploads/", data=b"",
                            step="start upload", obj=digest) as resp:
            location = resp.headers["Location"]
    if size > CHUNK_THRESHOLD:
        location = _upload_chunks(client, location, digest, size, progress)
        data: object = b""
        headers = {"Content-Length": "0"}
    else:
        data = blobstore.open_blob(digest)
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    try:
        with client.request("PUT", _with_digest(location, digest), headers=headers,
                            data=data, step="finish upload", obj=digest):  # type: ignore[arg-type]
            pass
    finally:
        if hasattr(data, "close"):
            data.close()
    if progress:
        progress(Progress(digest, "Pushed", size, size))


def _upload_chunks(client: Client, location: str, digest: str, size: int,
                   progress: ProgressFn | None) -> str:
    offset = 0
    with blobstore.open_blob(digest) as f:
        while chunk := f.read(UPLOAD_CHUNK):
            end = offset + len(chunk) - 1
            with client.request("PATCH", location, data=chunk, step="upload chunk", obj=digest,
                                headers={"Content-Type": "application/octet-stream",
                                         "Content-Range": f"{offset}-{end}",
                                         "Content-Length": str(len(chunk))}) as resp:
                location = resp.headers.get("Location") or location
            offset = end + 1
            if progress:
                progress(Progress(digest, "Pushing", offset, size))
    return location


def _with_digest(location: str, digest: str) -> str:
    parts = urllib.parse.urlsplit(location)
    query = parts.query + ("&" if parts.query else "") + urllib.parse.urlencode(
        {"digest": digest})
    return urllib.parse.urlunsplit(parts._replace(query=query))
