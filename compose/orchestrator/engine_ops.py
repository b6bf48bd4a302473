"""The supervisor's engine calls (ContainerOps) over engine.containers."""
from __future__ import annotations

import threading

from engine import containers


class EngineContainerOps:
    """ContainerOps backed by the real engine."""

    def wait(self, cid: str) -> int:
        """Block until the container exits; its exit code."""
        return int(containers.wait(cid).code)  # type: ignore[attr-defined]

    def start(self, cid: str) -> None:
        containers.start(cid)  # type: ignore[attr-defined]

    def is_running(self, cid: str) -> bool:
        try:
            info = containers.inspect(cid)  # type: ignore[attr-defined]
        except Exception:
            return False
        return bool(info.state is containers.State.RUNNING)

    def probe(self, cid: str, argv: tuple[str, ...], timeout: float) -> tuple[int, str] | None:
        """Run a healthcheck command; None when it ran past ``timeout``."""
        result: list[tuple[int, str]] = []

        def run() -> None:
            try:
                code, out, err = containers.exec_output(cid, list(argv))  # type: ignore[attr-defined]
                result.append((int(code), (out + err).decode(errors="replace")))
            except Exception as exc:  # a failing exec is a failing probe, like docker's
                result.append((-1, str(exc)))

        t = threading.Thread(target=run, daemon=True, name=f"probe-{cid[:12]}")
        t.start()
        t.join(timeout)
        return result[0] if result else None
