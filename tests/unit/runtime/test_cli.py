"""The runc-compatible command line: parsing and error mapping (no root)."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import EngineError
from engine.runtime.cli import build_parser, main, parse_signal


def test_parse_signal() -> None:
    assert parse_signal("9") == 9
    assert parse_signal("KILL") == 9
    assert parse_signal("sigterm") == 15
    with pytest.raises(EngineError, match="unknown signal"):
        parse_signal("NOPE")


def test_runc_style_arguments() -> None:
    p = build_parser()
    a = p.parse_args(["--root", "/r", "--log", "/l", "--log-format", "json", "create",
                      "--bundle", "/b", "--pid-file", "/p", "--console-socket", "/s", "id1"])
    assert (a.root, a.bundle, a.pid_file, a.console_socket, a.id) == (
        Path("/r"), Path("/b"), Path("/p"), Path("/s"), "id1")
    k = p.parse_args(["kill", "--all", "id1", "KILL"])
    assert k.all and k.signal == "KILL"
    e = p.parse_args(["exec", "-t", "id1", "sh", "-c", "echo hi"])
    assert e.tty and e.args == ["sh", "-c", "echo hi"]


def test_unknown_container_is_one_line_exit_1(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--root", str(tmp_path), "state", "ghost"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "engine.runtime: state: ghost: no such container"


def test_create_without_root_says_what_is_missing(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.errors import MissingPrivilege
    from engine.runtime import BuiltinRuntime

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(MissingPrivilege, match="needs root"):
        BuiltinRuntime(root=tmp_path).create("c", tmp_path)
    assert list(tmp_path.iterdir()) == []
