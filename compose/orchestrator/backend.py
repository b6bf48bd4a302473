"""The engine operations orchestration needs, as one interface.

``up``/``down`` and the CLI commands talk to the engine only through :class:`Backend`, so the
walk over the graph is unit-tested with a recording fake, and the real implementation
(:mod:`compose.orchestrator.engine_backend`) is the one place that knows the engine packages.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from compose.config.model import Network, Project, Service, Volume
from compose.errors import ComposeError


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What orchestration needs of an image: its id, config and layer directories."""

    id: str
    config: Any  # engine ImageConfig
    layers: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """A container as found in the engine (labels are the compose labels)."""

    id: str
    name: str
    state: str  # created | running | paused | restarting | exited | dead
    labels: Mapping[str, str]
    exit_code: int | None = None
    created: str = ""
    started_at: str = ""
    image: str = ""
    command: str = ""
    ports: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state in ("running", "paused", "restarting")


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """One container to create: the service, its replica number, name, labels, image."""

    project: Project
    service: Service
    number: int
    name: str
    labels: Mapping[str, str]
    image: ImageInfo
    oneoff: bool = False
    command: tuple[str, ...] | None = None  # `run` overrides
    extra_env: Mapping[str, str] = field(default_factory=dict)
    use_aliases: bool = True  # a one-off `run` container answers to the service name only
                              # with --use-aliases, like docker compose
    # target -> anonymous volume of the container this one replaces: reused, like docker
    # compose does on recreate (unless -V/--renew-anon-volumes)
    anon_volumes: Mapping[str, str] = field(default_factory=dict)


Progress = Callable[[str, str], None]  # (object, status text)


class NotRunning(ComposeError):
    """The container is not running (``attach`` to an exited one)."""


class Removals(Protocol):
    """What :meth:`Backend.removing_together` yields."""

    def flush_in_background(self) -> None: ...  # start deleting what the removals left


class Backend(Protocol):
    """Engine operations, all blocking; errors are EngineError/ComposeError subclasses."""

    def ensure_image(self, project: Project, service: Service, *, pull: str,
                     build: bool, progress: Progress) -> ImageInfo: ...
    def remove_image(self, ref: str) -> None: ...
    def ensure_network(self, project: Project, network: Network) -> bool: ...  # created?
    def remove_network(self, name: str) -> None: ...
    def list_networks(self, project: str) -> list[str]: ...
    def ensure_volume(self, project: Project, volume: Volume) -> bool: ...  # created?
    def remove_volume(self, name: str) -> None: ...
    def volume_config_hash(self, name: str) -> str | None: ...  # "" when unrecorded, None: none
    def list_volumes(self, project: str) -> list[str]: ...
    def anonymous_volumes(self, cid: str) -> dict[str, str]: ...  # its target -> volume name
    def list_containers(self, project: str | None, all: bool = True) -> list[ContainerRef]: ...
    def create_container(self, req: CreateRequest) -> str: ...
    def start_container(self, cid: str) -> None: ...
    def prepare_starts(self, sandboxes: bool) -> Callable[[], None]: ...  # containers will
    # start soon (``sandboxes``: some in their own netns): warm engine helpers now; the
    # returned function waits for those still starting (before the command returns)
    def stop_container(self, cid: str, timeout: float | None, *,
                       removing: bool = False) -> None: ...
    # (``removing``: the caller removes the container next: its names go with its sandbox,
    # and the stop may return once its processes are gone, before its shim's teardown,
    # which the removal waits for)
    def kill_container(self, cid: str, signal: str) -> None: ...
    def remove_container(self, cid: str) -> None: ...
    # removing many containers: their veths are deleted together, by the end of this
    def removing_together(self) -> AbstractContextManager[Removals]: ...
    def stop_idle_helpers(self) -> None: ...  # engine helper processes, once unused
    def pause_container(self, cid: str) -> None: ...
    def unpause_container(self, cid: str) -> None: ...
    def wait_container(self, cid: str) -> int: ...
    def logs(self, cid: str, *, follow: bool, since: str | None,
             tail: int | None) -> Iterator[Any]: ...
    def exec(self, cid: str, argv: list[str], *, env: tuple[str, ...], user: str,
             workdir: str, tty: bool, interactive: bool, privileged: bool = False,
             detach: bool = False) -> int: ...
    # attach: the main process's exit code, None when the detach keys were typed
    def attach(self, cid: str, *, stdin: bool, sig_proxy: bool, detach_keys: str,
               replay: bool = False, stdin_once: bool = False) -> int | None: ...
    def release_default_bridge(self) -> bool: ...  # removed when unused (network_mode: bridge)
    def exec_output(self, cid: str, argv: list[str], *, env: tuple[str, ...], user: str,
                    workdir: str) -> tuple[int, bytes, bytes]: ...  # code, stdout, stderr
