"""``run``'s attach: a one-off that is gone before the attach connects has its output printed
from the log, each line on the stream it was written to (a quick ``run`` under load)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from compose.cli.commands.run import _attach
from compose.orchestrator.backend import NotRunning
from engine.containers.spec import LogLine


class _GoneBackend:
    def attach(self, cid: str, **_: Any) -> int | None:
        raise NotRunning(cid)

    def logs(self, cid: str, **_: Any) -> Iterator[LogLine]:
        yield LogLine("t1", "stdout", "out one\n")
        yield LogLine("t2", "stderr", "touch: /foo/x: Read-only file system\n")
        yield LogLine("t3", "stdout", "no newline")

    def wait_container(self, cid: str) -> int:
        return 1


def test_a_gone_one_off_prints_its_log_on_the_streams_it_used(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _attach(_GoneBackend(), "c1", interactive=False) == 1  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    assert out == "out one\nno newline\n"
    assert err == "touch: /foo/x: Read-only file system\n"
