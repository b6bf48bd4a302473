"""The pre-rendered top-level help is what typer renders, and is printed without typer."""
from __future__ import annotations

import pytest

from compose.cli import helpgen, main
from compose.cli.helptext import TOP_LEVEL_HELP


def test_pre_rendered_help_is_current() -> None:
    assert TOP_LEVEL_HELP == helpgen.render_help(), (
        "the top-level help changed: run `.venv/bin/python -m compose.cli.helpgen`")


def test_every_listed_command_is_dispatched() -> None:
    section = TOP_LEVEL_HELP.split("Commands:\n", 1)[1]
    listed = {line.split()[0] for line in section.splitlines() if line.strip()}
    assert listed <= set(main.COMMANDS)
    assert set(main.COMMANDS) == listed


@pytest.mark.parametrize(("argv", "code", "where"), [(["--help"], 0, "out"), (["-h"], 0, "out"),
                                                     ([], 2, "err")])
def test_help_and_no_arguments(argv: list[str], code: int, where: str,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert main.main(argv) == code
    captured = capsys.readouterr()
    assert (captured.out if where == "out" else captured.err) == TOP_LEVEL_HELP


def test_a_narrow_terminal_gets_typer_wrapping(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    assert main.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out != TOP_LEVEL_HELP and max(len(line) for line in out.splitlines()) <= 60
    assert "Commands:" in out
