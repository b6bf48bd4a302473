"""The supervisor's engine calls (ContainerOps) over engine.containers."""
from __future__ import annotations

import threading

from engine import containers, networks
from engine.errors import NotFound


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

    def is_running(self, cid: str) -> bool:
        try:
            info = containers.inspect(cid)
        except Exception:
            return False
        return bool(info.state is containers.State.RUNNING)

    def probe(self, cid: str, argv: tuple[str, ...], timeout: float) -> tuple[int, str] | None:
        """Run a healthcheck command; None when it ran past ``timeout``."""
        result: list[tuple[int, str]] = []

        def run() -> None:
            try:
                code, out, err = containers.exec_output(cid, list(argv))
                result.append((int(code), (out + err).decode(errors="replace")))
            except Exception as exc:  # a failing exec is a failing probe, like docker's
                result.append((-1, str(exc)))

        t = threading.Thread(target=run, daemon=True, name=f"probe-{cid[:12]}")
        t.start()
        t.join(timeout)
        return result[0] if result else None
