"""Images: content store, registry pull/push, load/save/import and the Dockerfile builder.

Public API (other engine modules and the CLI use only these names)::

    normalize_reference(ref) -> Reference
    resolve(ref) -> Image            exists(ref) -> bool
    pull(ref, progress=, platform=) -> Image       push(ref, progress=) -> str (digest)
    tag(src, dst)   remove(ref, force=)   list_images()   history(ref)   prune(all_unused=)
    save(refs, path, format=)   load(path) -> list[Image]   import_rootfs(tar, ref) -> Image
    build(BuildSpec, progress=) -> Image

``Image.layer_dirs`` are unpacked layer directories, lowest first, usable as OverlayFS lower
dirs; ``Image.config`` (:class:`ImageConfig`) gives container defaults.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

# Imported lazily (PEP 562): the registry client (urllib, ssl), archives (tarfile, zstandard)
# and the store are only loaded by the commands that use them.
_EXPORTS = {
    "engine.images.archive": ("ArchiveError", "import_rootfs", "load", "save"),
    "engine.images.blobstore": ("CorruptBlob",),
    "engine.images.imagestore": ("exists", "history", "last_tagged", "list_images",
                                 "mount_layers", "prune", "remove", "resolve", "tag"),
    "engine.images.model": ("BuildSecret", "BuildSpec", "Healthcheck", "HistoryEntry", "Image",
                            "ImageConfig", "Progress"),
    "engine.images.reference": ("InvalidReference", "Reference", "normalize_reference"),
    "engine.images.registry.client": ("RegistryError",),
    "engine.images.registry.pull": ("pull",),
    "engine.images.registry.push": ("push",),
}

if TYPE_CHECKING:
    from engine.images.archive import ArchiveError, import_rootfs, load, save
    from engine.images.blobstore import CorruptBlob
    from engine.images.builder.errors import BuildError  # noqa: F401
    from engine.images.imagestore import (
        exists,
        history,
        last_tagged,
        list_images,
        mount_layers,
        prune,
        remove,
        resolve,
        tag,
    )
    from engine.images.model import (
        BuildSecret,
        BuildSpec,
        Healthcheck,
        HistoryEntry,
        Image,
        ImageConfig,
        Progress,
    )
    from engine.images.reference import InvalidReference, Reference, normalize_reference
    from engine.images.registry.client import RegistryError
    from engine.images.registry.pull import pull
    from engine.images.registry.push import push


__getattr__ = lazy_exports(globals(), _EXPORTS)


def build(spec: BuildSpec, *, progress: Callable[[Progress], None] | None = None) -> Image:
    """Build an image from a Dockerfile (compose ``build:``); see engine.images.builder."""
    from engine.images.builder.build import build_image

    return build_image(spec, progress=progress)


__all__ = [
    "ArchiveError", "BuildSecret", "BuildSpec", "CorruptBlob", "Healthcheck", "HistoryEntry",
    "Image",
    "ImageConfig", "InvalidReference", "Progress", "Reference", "RegistryError", "build",
    "exists", "history", "last_tagged", "import_rootfs", "list_images", "load", "mount_layers",
    "normalize_reference", "prune", "pull",
    "push", "remove", "resolve", "save", "tag",
]
