"""Output helpers of the orchestration commands (progress, log prefixes, docker wordings)."""
from __future__ import annotations

import pytest

from compose.cli.commands._orch import LogPrinter, Progress, human_duration, log_prefix
from compose.orchestrator.backend import ContainerRef


def ref(name: str, service: str, n: int, project: str = "p") -> ContainerRef:
    return ContainerRef(f"id-{name}", name, "running", {
        "com.docker.compose.project": project, "com.docker.compose.service": service,
        "com.docker.compose.container-number": str(n)})


def test_docker_human_durations() -> None:
    assert human_duration(0.2) == "Less than a second"
    assert human_duration(1) == "1 second"
    assert human_duration(59) == "59 seconds"
    assert human_duration(61) == "About a minute"
    assert human_duration(600) == "10 minutes"
    assert human_duration(3600) == "About an hour"
    assert human_duration(5 * 3600) == "5 hours"


def test_log_prefix_and_padding() -> None:
    web, db = ref("p-web-1", "web", 1), ref("custom", "db", 1)
    assert log_prefix(web) == "web-1" and log_prefix(db) == "custom"
    printer = LogPrinter([web, db], colour=False, timestamps=False)
    assert printer.format(web, "t", "hello") == "web-1   | hello"
    stamped = LogPrinter([web], colour=False, timestamps=True)
    assert stamped.format(web, "2026-01-01T00:00:00Z", "x") == "web-1  | 2026-01-01T00:00:00Z x"


def test_progress_modes(capsys: pytest.CaptureFixture[str]) -> None:
    Progress("plain")("p-db-1", "Started")
    Progress("plain")("Network p_default", "Created")
    Progress("json")("p-db-1", "Started")
    Progress("quiet")("p-db-1", "Started")
    err = capsys.readouterr().err.splitlines()
    # docker's plain lines: Fprintln("", id, text, details), so one space and a trailing one
    assert err == [" Container p-db-1 Started ", " Network p_default Created ",
                   '{"id": "Container p-db-1", "status": "Started"}']


def test_tty_progress_redraws_in_place(capsys: pytest.CaptureFixture[str]) -> None:
    p = Progress("tty")
    p("p-db-1", "Creating")
    p("p-db-1", "Started")
    err = capsys.readouterr().err
    assert "\x1b[2A" in err  # the second draw moves up over the first (header + one line)
    last = err.splitlines()[-1]
    assert "Container p-db-1" in last and "Started" in last
    assert "[+] Running 1/1" in err


def test_ports_shown_only_for_running_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from compose.cli.commands._psrow import ports_column
    from compose.cli.commands.ps import _publishers
    from engine import networks

    binding = networks.PortBinding(80, 8080, "127.0.0.1", "tcp")
    monkeypatch.setattr(networks, "published_ports", lambda name: [binding])
    running = ref("p-web-1", "web", 1)
    assert ports_column(_publishers(None, running)) == "127.0.0.1:8080->80/tcp"
    for st in ("exited", "created", "dead"):
        assert _publishers(None, dataclasses.replace(running, state=st)) == []
