"""The supervisor's engine calls (ContainerOps) over engine.containers."""
from __future__ import annotations

from collections.abc import Iterator

from engine import containers, networks
from engine.errors import NotFound


def load_calls() -> None:
    """Import the engine modules behind these calls (each name's first use imports its
    module)."""
    for _ in calls_loaded():
        pass


def calls_loaded() -> Iterator[str]:
    """:func:`load_calls` one call at a time (the warm engine answers requests in between,
    while it prepares a starting ``up``'s supervisor): each name once it is loaded."""
    for name in ("inspect", "wait", "start", "exec_output"):
        getattr(containers, name)
        yield name
    _ = networks.set_endpoint_active
    yield "set_endpoint_active"


class EngineContainerOps:
    """ContainerOps backed by the real engine."""

    def wait(self, cid: str) -> int:
        """Block until the container exits; its exit code."""
        return int(containers.wait(cid).code)

    def start(self, cid: str) -> None:
        info = containers.start(cid)
        try:  # DNS names follow the container's running state
            networks.set_endpoint_active(info.name, True)
        except NotFound:
            pass

    def note_restart(self, cid: str) -> None:
        containers.note_restart(cid)

    def remove(self, cid: str) -> None:
        """Remove an exited one-off container with its network endpoints (``run --rm -d``)."""
        from compose.orchestrator.engine_backend import EngineBackend

        EngineBackend().remove_container(cid)

    def prepare(self) -> None:
        """Import the engine modules behind these calls and open the store: a supervisor
        does it once it is ready, while the ``up`` that started it still prepares networks
        and containers, instead of in the first ``watch`` it serves (~20 ms on the path of
        the first container's start)."""
        load_calls()
        self.is_running("")  # (no such container: reads the store once)

    def is_running(self, cid: str) -> bool:
        try:
            info = containers.inspect(cid)
        except Exception:
            return False
        return bool(info.state is containers.State.RUNNING)

    def probe(self, cid: str, argv: tuple[str, ...], timeout: float) -> tuple[int, str] | None:
        """Run a healthcheck command; None when it ran past ``timeout`` (the shim killed its
        process group, so no probe process outlives its check)."""
        try:
            code, out, err = containers.exec_output(cid, list(argv), timeout=timeout)
        except containers.ExecTimeout:
            return None
        except Exception as exc:  # a failing exec is a failing probe, like docker's
            return -1, str(exc)
        return int(code), (out + err).decode(errors="replace")
