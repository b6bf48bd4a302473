"""The cheap typer parameter coercion gives typer's results for plain annotations."""
from __future__ import annotations

from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from compose.cli import fastparams
from compose.cli.fastparams import _converter


@pytest.mark.parametrize(("annotation", "expected"), [
    (str, (str, False)), (int | None, (int, False)), (list[str] | None, (str, True)),
    (bool, (bool, False)), (list[float], (float, True)), (dict[str, str], None),
    (tuple[int, int], None),
])
def test_converter_selection(annotation: object, expected: object) -> None:
    assert _converter(annotation) == expected


def test_values_are_coerced_and_errors_reported() -> None:
    fastparams.install()
    app = typer.Typer()
    seen: dict[str, object] = {}

    @app.command()
    def cmd(n: Annotated[int, typer.Option()] = 1,
            names: Annotated[list[str] | None, typer.Option("--name")] = None,
            ratio: Annotated[float | None, typer.Option()] = None,
            flag: Annotated[bool, typer.Option()] = False) -> None:
        seen.update(n=n, names=names, ratio=ratio, flag=flag)

    runner = CliRunner()
    result = runner.invoke(app, ["--n", "7", "--name", "a", "--name", "b", "--ratio", "0.5",
                                 "--flag"])
    assert result.exit_code == 0, result.output
    assert seen == {"n": 7, "names": ["a", "b"], "ratio": 0.5, "flag": True}
    result = runner.invoke(app, ["--n", "x"])
    assert result.exit_code == 2 and "not a valid integer" in result.output
