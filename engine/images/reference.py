"""Image references, normalized like docker (``busybox`` → ``docker.io/library/busybox:latest``)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from engine.errors import EngineError

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAINS = {"index.docker.io", "registry-1.docker.io"}
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_DOMAIN = re.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?"
)


class InvalidReference(EngineError):
    """The text is not a valid image reference."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalized reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``domain/path`` (the repository name with its registry)."""
        return f"{self.domain}/{self.path}"

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    def with_tag(self, tag: str) -> Reference:
        """Return the same repository with another tag and no digest."""
        return Reference(self.domain, self.path, tag, None)

    def familiar(self) -> str:
        """The short form docker prints (``busybox:latest``, ``localhost:5000/x:1``)."""
        path = self.path
        if self.domain == DEFAULT_DOMAIN:
            path = path.removeprefix("library/")
            base = path
        else:
            base = f"{self.domain}/{path}"
        tag = f":{self.tag}" if self.tag else ""
        return base + tag + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (
            f"@{self.digest}" if self.digest else "")


def _invalid(ref: str, why: str) -> InvalidReference:
    return InvalidReference(why, step="parse image reference", obj=repr(ref))


def _split_domain(ref: str, remainder: str) -> tuple[str, str]:
    first, sep, rest = remainder.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        if not _DOMAIN.fullmatch(first):
            raise _invalid(ref, f"invalid registry host {first!r}")
        domain = DEFAULT_DOMAIN if first in _LEGACY_DOMAINS else first
        return domain, rest
    return DEFAULT_DOMAIN, remainder


def normalize_reference(ref: str) -> Reference:
    """Parse and normalize an image reference; raise :class:`InvalidReference` when invalid.

    Rules follow docker: a missing registry means ``docker.io``, single-component Docker Hub names
    get ``library/``, a missing tag means ``latest`` unless a digest pins the image.
    """
    text = ref.strip()
    if not text:
        raise _invalid(ref, "empty reference")
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise _invalid(ref, f"invalid digest {digest!r}")
    tag: str | None = None
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        name, tag = name[:colon], name[colon + 1:]
        if not _TAG.fullmatch(tag):
            raise _invalid(ref, f"invalid tag {tag!r}")
    domain, path = _split_domain(ref, name)
    if not path:
        raise _invalid(ref, "missing repository name")
    for comp in path.split("/"):
        if not _COMPONENT.fullmatch(comp):
            why = "repository name must be lowercase" if comp.lower() != comp else \
                f"invalid repository name component {comp!r}"
            raise _invalid(ref, why)
    if len(domain) + 1 + len(path) > 255:
        raise _invalid(ref, "repository name longer than 255 characters")
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path
    if digest and digest.startswith("sha256:") and len(digest) != 71:
        raise _invalid(ref, "sha256 digest must have 64 hex digits")
    if tag is None and not digest:
        tag = "latest"
    return Reference(domain, path, tag, digest.lower() if digest else None)


def is_loopback(domain: str) -> bool:
    """True for registries on this machine (docker treats them as insecure by default)."""
    host = domain.rsplit(":", 1)[0] if not domain.startswith("[") else domain.split("]")[0][1:]
    return host == "localhost" or host.startswith("127.") or host == "::1"
