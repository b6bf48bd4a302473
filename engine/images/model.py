"""Value objects of the image store: image config (container defaults), images, build specs."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Healthcheck:
    """A HEALTHCHECK from an image config. Durations are in nanoseconds, like the OCI config.

    ``test`` is the docker form: ``("NONE",)``, ``("CMD", argv...)`` or ``("CMD-SHELL", cmd)``.
    """

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The ``config`` section of an image: defaults for containers created from it."""

    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()
    healthcheck: Healthcheck | None = None
    stop_signal: str = ""
    volumes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    shell: tuple[str, ...] | None = None
    on_build: tuple[str, ...] = ()

    def env_dict(self) -> dict[str, str]:
        """Return Env as a mapping (later entries win)."""
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out

    def labels_dict(self) -> dict[str, str]:
        """Return Labels as a mapping."""
        return dict(self.labels)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One entry of an image's history (one Dockerfile instruction or one import)."""

    created: str
    created_by: str
    empty_layer: bool
    comment: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True)
class Image:
    """A local image. ``id`` is the config digest (``sha256:...``) like docker's image id.

    ``layer_dirs`` are the unpacked layer directories, lowest first: stack them as OverlayFS
    lower dirs (overlay wants the *uppermost* lower dir first, so reverse them for lowerdir=).
    """

    id: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    config: ImageConfig
    layer_dirs: tuple[Path, ...]
    diff_ids: tuple[str, ...]
    size: int
    created: str
    architecture: str
    os: str
    manifest_digest: str = ""

    @property
    def short_id(self) -> str:
        """The 12-hex short id docker prints."""
        return self.id.removeprefix("sha256:")[:12]


@dataclass(frozen=True, slots=True)
class BuildSecret:
    """A secret a build may mount (``RUN --mount=type=secret,id=ID``): the content of ``file``
    or of the environment variable ``env`` of the building process. Never stored in a layer."""

    id: str
    file: Path | None = None
    env: str | None = None


@dataclass(frozen=True, slots=True)
class BuildSpec:
    """What compose's ``build:`` section asks for.

    ``dockerfile`` is relative to ``context``; ``dockerfile_inline`` wins when set.
    ``network`` is ``"default"`` (RUN steps get a NATed bridge network of their own, like
    docker), ``"none"`` or ``"host"``. ``additional_contexts`` maps names usable in ``FROM``,
    ``COPY --from`` and ``RUN --mount=from=`` to a directory or ``docker-image://REF``.
    ``cache_from`` names local images whose layers may stand in for a step with the same
    parent layers and instruction (the classic builder's rule). ``extra_hosts`` go into RUN
    steps' /etc/hosts; ``shm_size``, ``ulimits`` and ``privileged`` apply to RUN containers.
    """

    context: Path
    dockerfile: str = "Dockerfile"
    dockerfile_inline: str | None = None
    args: tuple[tuple[str, str | None], ...] = ()
    target: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    network: str = "default"
    tags: tuple[str, ...] = ()
    no_cache: bool = False
    pull: bool = False
    secrets: tuple[BuildSecret, ...] = ()
    additional_contexts: tuple[tuple[str, str], ...] = ()
    cache_from: tuple[str, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()
    shm_size: int | None = None
    ulimits: tuple[tuple[str, int, int], ...] = ()
    privileged: bool = False
    entitlements: tuple[str, ...] = ()  # network.host, security.insecure


@dataclass(frozen=True, slots=True)
class Progress:
    """One progress event: ``what`` is a short label (a layer digest, a build step)."""

    what: str
    status: str
    current: int = 0
    total: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
