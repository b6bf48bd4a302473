"""The typer-free parser gives the commands exactly what typer gives them, or steps aside."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import typer.main

from compose.cli import app as cli_app
from compose.cli import lean
from compose.cli.commands import config, down, ps, up
from compose.cli.commands import exec as exec_
from compose.cli.commands import run as run_
from compose.cli.main import build_app, invoked_index

COMMANDS: dict[str, Callable[..., Any]] = {
    "ps": ps.ps_command, "config": config.config_command, "exec": exec_.exec_command,
    "run": run_.run_command, "up": up.up_command, "down": down.down_command}
INTERSPERSED = {"ps": True, "config": True, "exec": False, "run": False, "up": True,
                "down": True}


def typer_kwargs(argv: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """What typer passes to the global options callback and to the command."""
    seen: dict[str, dict[str, Any]] = {}

    def spy(key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(ctx: Any, **kwargs: Any) -> int:
            seen[key] = kwargs
            return 0
        return wrapper

    app = build_app(argv)
    app.registered_callback.callback = spy("global", cli_app._global_options)  # type: ignore
    for info in app.registered_commands:
        info.callback = spy("command", info.callback)  # type: ignore[arg-type]
    command = typer.main.get_command(app)
    command.main(args=cli_app.go_bools(command, argv), prog_name="pycompose",
                 standalone_mode=False)
    return seen["global"], seen["command"]


def lean_kwargs(argv: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    at = invoked_index(argv)
    assert at is not None
    return (lean.parse(lean.params_of(cli_app._global_options), argv[:at]),
            lean.parse(lean.params_of(COMMANDS[argv[at]]), argv[at + 1:],
                       INTERSPERSED[argv[at]]))


@pytest.mark.parametrize("argv", [
    ["ps"], ["ps", "-a"], ["ps", "--all", "-q", "web", "db"], ["ps", "web", "--status", "running",
                                                              "--status=exited"],
    ["ps", "--format", "json"], ["ps", "--services"],
    ["-f", "a.yml", "--file=b.yml", "-p", "demo", "ps", "-a"],
    ["--profile", "x", "--env-file", "e", "--project-directory", "/tmp", "-v", "ps"],
    ["--parallel", "3", "--ansi", "never", "--progress", "plain", "ps"],
    ["config"], ["config", "-q"], ["config", "--services", "web"], ["config", "--format=json"],
    ["config", "--hash", "*"], ["config", "--no-interpolate", "-o", "out.yml", "a", "b"],
    ["config", "--variables"],
    ["exec", "-T", "web", "true"], ["exec", "web", "ls", "-T", "-la", "--", "x"],
    ["exec", "-T", "--index", "2", "-e", "A=1", "--env=B=2", "-u", "0", "-w", "/", "web", "id"],
    ["exec", "--no-interactive", "-d", "--privileged", "web", "sleep", "1"],
    ["exec", "-i", "-t", "web", "sh"], ["exec", "--interactive", "web", "sh"],
    ["-p", "demo", "exec", "web", "sh", "-c", "echo -p"],
    ["run", "--rm", "-T", "web", "true"], ["run", "web"], ["run", "-d", "--name", "x", "web"],
    ["run", "--rm", "-e", "A=1", "-l", "k=v", "--no-deps", "-P", "-p", "80", "web", "a", "-b"],
    ["run", "--no-interactive", "--pull", "never", "--entrypoint", "sh", "-q", "web", "-c", "x"],
    ["run", "--cap-add", "NET_ADMIN", "--cap-drop=ALL", "--use-aliases", "--build", "web"],
    ["run", "-v", "/a:/b", "--volume", "data:/d", "--remove-orphans", "--labels", "a=b", "web"],
    ["up"], ["up", "-d"], ["-p", "demo", "up", "-d", "--wait", "--wait-timeout", "30", "web"],
    ["up", "--build", "--pull", "always", "--quiet-pull", "--scale", "web=3", "--scale=db=2"],
    ["up", "--abort-on-container-exit", "--exit-code-from", "web", "-t", "2.5", "web", "db"],
    ["up", "--no-deps", "--no-start", "--force-recreate", "-V", "--remove-orphans", "-y"],
    ["up", "--attach", "a", "--no-attach", "b", "--timestamps", "--no-color", "--timings"],
    ["up", "-w", "--attach-dependencies", "--no-log-prefix", "--quiet-build", "--no-build"],
    ["down"], ["down", "-v", "--rmi", "local", "--remove-orphans", "-t", "1", "web"],
    ["-p", "demo", "down", "--volumes", "--timeout=0"],
    ["ps", "--all=1"], ["exec", "--no-interactive=true", "web", "x"],
    ["up", "--detach", "--build=TRUE"],  # Go-style values of boolean flags
])
def test_same_arguments_as_typer(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COMPOSE_PROGRESS", "COMPOSE_ANSI", "COMPOSE_PARALLEL_LIMIT"):
        monkeypatch.delenv(var, raising=False)
    assert lean_kwargs(argv) == typer_kwargs(argv)


def test_environment_defaults_as_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPOSE_PROGRESS", "quiet")
    monkeypatch.setenv("COMPOSE_PARALLEL_LIMIT", "4")
    monkeypatch.setenv("COMPOSE_ANSI", "")
    argv = ["ps"]
    assert lean_kwargs(argv) == typer_kwargs(argv)
    assert lean_kwargs(argv)[0]["progress"] == "quiet" and lean_kwargs(argv)[0]["parallel"] == 4


@pytest.mark.parametrize("argv", [
    ["ps", "-h"], ["ps", "--help"], ["ps", "-aq"], ["ps", "--bogus"], ["ps", "--format"],
    ["ps", "--", "web"], ["--parallel", "x", "ps"], ["ps", "--all=yes"], ["ps", "--all=false"],
    ["run", "--no-tty=false", "web"],  # (false: what it means is typer's path's business)
    ["exec", "-Ti", "web", "true"], ["exec", "--", "web", "true"], ["exec", "-T", "web"],
    ["exec", "--no-interactive=x", "web", "x"], ["run", "--bogus", "web"],
    ["run", "-v"], ["run", "--rm"], ["up", "--menu"], ["up", "-dV"], ["up", "--scale"],
    ["up", "-t", "x"], ["up", "--always-recreate-deps"], ["down", "--rmi"], ["down", "-h"],
])
def test_steps_aside_for_typer(argv: list[str]) -> None:
    with pytest.raises(lean.Fallback):
        lean_kwargs(argv)


def test_unsupported_declarations_step_aside() -> None:
    def derived(ctx: Any, force: bool = False) -> None: ...
    derived.__annotations__ = {"ctx": "typer.Context",
                               "force": "Annotated[bool, typer.Option()]"}

    def parsed(ctx: Any, n: int = 1) -> None: ...
    parsed.__annotations__ = {"ctx": "typer.Context",
                              "n": "Annotated[int, typer.Option('-n', min=0)]"}

    for fn in (derived, parsed):
        with pytest.raises(lean.Fallback):
            lean.params_of(fn)


@pytest.mark.parametrize("annotation", [
    "Annotated[bool, typer.Option(FLAG)]",  # a name the module does not have
    "Annotated[bool, typer.Option(0)]", "Annotated[str, typer.Option('--x', envvar=1)]",
    "Annotated[list[bool], typer.Option('--x')]", "Annotated[None | str, typer.Option('--x')]",
    "Annotated[str | int, typer.Option('--x')]", "Annotated[dict[str, str], typer.Option('--x')]",
    "Annotated[str]", "Annotated[str, typer.Option('--x'), 1]", "Annotated[str, 'a doc']",
    "Annotated[str, typer.Option('--x')", "str", "Annotated[bool, typer.Argument()]",
])
def test_declarations_it_does_not_read_step_aside(annotation: str) -> None:
    def command(ctx: Any, x: Any = None) -> None: ...
    command.__annotations__ = {"ctx": "typer.Context", "x": annotation}
    with pytest.raises(lean.Fallback):
        lean.params_of(command)


def test_declarations_are_read_in_their_module() -> None:
    def command(ctx: Any, x: Any = None, y: Any = (), z: Any = False) -> None: ...
    command.__annotations__ = {
        "ctx": "typer.Context",
        "x": "Annotated[int | None, typer.Option('-x', '--ex', envvar=VAR, help=HELP)]",
        "y": "Annotated[list[str] | None, typer.Argument(metavar='Y')]",
        "z": "Annotated[bool, typer.Option('--zed/--no-zed')]"}
    with_names = functools.partial(lean._param, namespace={"VAR": "X_VAR", "HELP": "h"})
    x, y, z = (with_names(name, command.__annotations__[name], default, False)
               for name, default in (("x", None), ("y", ()), ("z", False)))
    assert x == lean.Param("x", "option", "int", False, ("-x", "--ex"), (), "X_VAR", None)
    assert y == lean.Param("y", "argument", "str", True, default=())
    assert z == lean.Param("z", "option", "bool", False, ("--zed",), ("--no-zed",),
                           default=False)


def test_lazy_typer_loads_on_first_use() -> None:
    import sys

    saved = sys.modules.pop("typer")
    try:
        lean.install_lazy_typer()
        stand_in = sys.modules["typer"]
        assert isinstance(stand_in, lean._LazyTyper)
        assert stand_in.Exit is saved.Exit or stand_in.Exit.__name__ == "Exit"
        assert not isinstance(sys.modules["typer"], lean._LazyTyper)
    finally:
        sys.modules["typer"] = saved


def test_the_commands_annotated_is_typings_once_evaluated() -> None:
    """compose.cli.options.Annotated (typing stays unloaded on the lean path) gives typer and
    inspect the real ``typing.Annotated`` when they evaluate a declaration."""
    import inspect
    import typing

    from compose.cli import options
    from compose.cli.commands.config import config_command

    marker = object()
    assert options.Annotated[int, marker] == typing.Annotated[int, marker]
    hint = inspect.signature(config_command, eval_str=True).parameters["quiet"].annotation
    assert typing.get_origin(hint) is typing.Annotated and typing.get_args(hint)[0] is bool
