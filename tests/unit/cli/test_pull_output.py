"""``pull``'s decisions and wording, as docker compose v2 prints them (progress on stderr)."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.cli.commands.pull import _skip_reason
from compose.cli.main import main
from compose.config.model import BuildConfig, Service
from tests.unit.config.helpers import write


def test_skip_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.images

    monkeypatch.setattr(engine.images, "exists", lambda ref: ref == "here:1")
    todo: dict[str, Service] = {}
    assert _skip_reason(Service("b", build=BuildConfig(context=".")), False, todo) == (
        "Skipped - No image to be pulled")
    assert _skip_reason(Service("s", image="here:1", pull_policy="missing"), False, todo) == (
        "Skipped - Image is already present locally")
    assert _skip_reason(Service("n", image="x:1", pull_policy="never"), False, todo) == "Skipped"
    buildable = Service("c", image="x:1", build=BuildConfig(context="."))
    assert _skip_reason(buildable, True, todo) == "Skipped - Image can be built"
    assert _skip_reason(buildable, False, todo) is None
    todo["x:1"] = buildable
    assert _skip_reason(Service("d", image="x:1"), False, todo) == (
        "Skipped - Image is already being pulled by c")


def test_failed_pulls_exit_1_and_name_what_to_build(tmp_path: Path, state_root: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "compose.yaml", "services:\n  fail:\n    image: 127.0.0.1:1/nope\n"
                                    "  can_build:\n    image: 127.0.0.1:1/either\n    build: .\n"
                                    "  nob:\n    build: .\n")
    monkeypatch.chdir(tmp_path)
    assert main(["pull"]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # progress goes to stderr, like docker compose
    assert " nob Skipped - No image to be pulled" in err
    assert " fail Error " in err and " can_build Warning " in err
    assert ("WARNING: Some service image(s) must be built from source by running:\n"
            "    docker compose build can_build") in err
    assert main(["pull", "--ignore-pull-failures"]) == 0
