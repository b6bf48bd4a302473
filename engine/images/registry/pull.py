"""Pull an image from a registry into the local store (parallel, verified downloads)."""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from engine import store
from engine.images import blobstore, catalog, layers
from engine.images.catalog import LayerBlob
from engine.images.model import Image, Progress
from engine.images.reference import Reference, is_loopback, normalize_reference
from engine.images.registry import config as regconfig
from engine.images.registry.client import Client, RegistryError
from engine.images.registry.platform import select_platform

log = logging.getLogger(__name__)

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
INDEX_TYPES = (DOCKER_LIST, OCI_INDEX)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))
PARALLEL_DOWNLOADS = 3
DOWNLOAD_ATTEMPTS = 3
RETRY_DELAY = 0.2

ProgressFn = Callable[[Progress], None]


def endpoints_for(ref: Reference, *, for_push: bool = False) -> list[str]:
    """Base URLs to try for a reference: configured mirrors first (pulls only), then origin."""
    settings = regconfig.load_settings()
    mirrors = [] if for_push else list(settings.mirrors.get(ref.domain, ()))
    # Loopback registries are plain http (docker's default); other insecure ones try https
    # without certificate checks first (see make_client).
    scheme = "http" if is_loopback(ref.domain) else "https"
    return mirrors + [f"{scheme}://{regconfig.api_host(ref.domain)}"]


def make_client(endpoint: str, ref: Reference, actions: str = "pull") -> Client:
    settings = regconfig.load_settings()
    origin = endpoint.split("://", 1)[-1] == regconfig.api_host(ref.domain)
    insecure = origin and ref.domain in settings.insecure
    return Client(endpoint, ref.path, credentials=regconfig.credentials_for(ref.domain),
                  actions=actions, insecure=insecure)


def pull(ref: str, *, progress: ProgressFn | None = None, platform: str | None = None) -> Image:
    """Pull ``ref`` (tag or digest) and return the local image; mirrors are tried first."""
    norm = normalize_reference(ref)
    errors: list[str] = []
    for endpoint in endpoints_for(norm):
        try:
            return _pull_from(make_client(endpoint, norm), norm, progress, platform)
        except RegistryError as exc:
            if exc.status not in (None, 404, 401, 403, 500, 502, 503) or \
                    endpoint == endpoints_for(norm)[-1]:
                raise
            log.info("mirror %s failed for %s: %s", endpoint, norm, exc)
            errors.append(str(exc))
    raise RegistryError("; ".join(errors), step="pull", obj=str(norm))


def fetch_manifest(client: Client, reference: str, obj: str) -> tuple[bytes, str, str]:
    """GET a manifest; return (bytes, media type, verified digest)."""
    with client.request("GET", f"/v2/{client.repo}/manifests/{reference}",
                        headers={"Accept": ACCEPT}, step="fetch manifest", obj=obj) as resp:
        body = resp.read()
        media_type = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
        header_digest = resp.headers.get("Docker-Content-Digest")
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    expected = reference if reference.startswith("sha256:") else header_digest
    if expected and expected != digest:
        raise blobstore.CorruptBlob(f"manifest hashes to {digest}, expected {expected}",
                                    step="verify manifest", obj=obj)
    doc = json.loads(body)
    media_type = doc.get("mediaType") or media_type
    if doc.get("schemaVersion") == 1:
        raise RegistryError("schema 1 manifests are not supported", step="fetch manifest",
                            obj=obj)
    return body, media_type, digest


def _pull_from(client: Client, ref: Reference, progress: ProgressFn | None,
               platform: str | None) -> Image:
    obj = str(ref)
    body, media_type, digest = fetch_manifest(client, ref.reference, obj)
    if media_type in INDEX_TYPES or "manifests" in json.loads(body):
        desc = select_platform(json.loads(body), platform)
        body, media_type, digest = fetch_manifest(client, desc["digest"], obj)
    manifest: dict[str, Any] = json.loads(body)
    cdesc = manifest["config"]
    fetch_blob(client, cdesc["digest"], int(cdesc.get("size", -1)), None)
    config_bytes = blobstore.read_blob(cdesc["digest"])
    diff_ids = json.loads(config_bytes).get("rootfs", {}).get("diff_ids", [])
    ldescs = manifest.get("layers", [])
    if len(diff_ids) != len(ldescs):
        raise RegistryError("manifest and config disagree on the number of layers",
                            step="pull", obj=obj)
    blobs = [LayerBlob(d["digest"], d.get("mediaType", ""), int(d.get("size", 0)), diff)
             for d, diff in zip(ldescs, diff_ids, strict=True)]
    store.connect()  # create the database here, not racing in the download threads
    with ThreadPoolExecutor(PARALLEL_DOWNLOADS) as pool:
        list(pool.map(lambda lb: _fetch_layer(client, lb, progress), blobs))
    blobstore.put_bytes(body)
    tags = [ref] if ref.tag else []
    image_id = catalog.save_record(config_bytes=config_bytes, manifest_digest=digest,
                                   manifest_media_type=media_type, layer_blobs=blobs,
                                   tags=tags, repo_digests=[f"{ref.name}@{digest}"])
    if progress:
        progress(Progress(obj, f"Pulled {digest}"))
    return catalog.load_image(image_id)


def _fetch_layer(client: Client, lb: LayerBlob, progress: ProgressFn | None) -> None:
    fetch_blob(client, lb.digest, lb.size, progress)
    if progress:
        progress(Progress(lb.digest, "Extracting", lb.size, lb.size))
    layers.ensure_unpacked(lb.digest, lb.diff_id)
    if progress:
        progress(Progress(lb.digest, "Pull complete", lb.size, lb.size))


def fetch_blob(client: Client, digest: str, size: int, progress: ProgressFn | None) -> None:
    """Download a blob into the store unless present; verify digest and size.

    A dropped connection or a cut-off body is retried (a few times, short backoff); content
    that arrives whole but hashes wrong is not: the registry holds bad data.
    """
    if blobstore.has_blob(digest):
        if progress:
            progress(Progress(digest, "Already exists", size, size))
        return
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        try:
            _download(client, digest, size, progress)
            return
        except (blobstore.TruncatedBlob, RegistryError) as exc:
            transient = isinstance(exc, blobstore.TruncatedBlob) or exc.status is None or \
                (exc.status or 0) >= 500
            if not transient or attempt == DOWNLOAD_ATTEMPTS:
                raise
            log.info("retrying %s after: %s", digest, exc)
            time.sleep(RETRY_DELAY * attempt)


def _download(client: Client, digest: str, size: int, progress: ProgressFn | None) -> None:
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(Progress(digest, "Downloading", done, size))

    with client.request("GET", f"/v2/{client.repo}/blobs/{digest}", step="fetch blob",
                        obj=digest) as resp:
        try:
            blobstore.ingest_chunks(iter(lambda: resp.read(blobstore.CHUNK), b""),
                                    expected_digest=digest, expected_size=size,
                                    on_progress=tick)
        except (http.client.IncompleteRead, ConnectionError) as exc:
            raise blobstore.TruncatedBlob(f"truncated download: connection ended early "
                                          f"({exc!r})", step="fetch blob", obj=digest) from None
