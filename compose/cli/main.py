"""``pycompose`` entry point: global options, command registration, and the one catch-all that
turns error roots into exit codes and one-line messages (never a traceback for a user mistake;
``-v`` prints it for debugging)."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated

import typer

from compose.cli import fastparams, terminal
from compose.cli.context import CliContext

log = logging.getLogger(__name__)

# Each name is a module in compose.cli.commands exposing register(app). Add one line per command.
COMMAND_MODULES: list[str] = [
    "config",
    "graph",
    "images",
    "pull",
    "build",
    "push",
    # orchestration (compose/orchestrator)
    "up",
    "down",
    "ps",
    "logs",
    "exec",
    "attach",
    "run",
    "create",
    "start",
    "stop",
    "restart",
    "kill",
    "rm",
    "pause",
    "unpause",
    "top",
    "port",
    "wait",
    "events",
    "cp",
    "ls",
    "stats",
]

EXIT_INTERRUPTED = 130
EXIT_USAGE = 2
_PROGRESS = ("auto", "tty", "plain", "json", "quiet")
_ANSI = ("auto", "never", "always")


def _global_options(
    ctx: typer.Context,
    file: Annotated[
        list[str] | None,
        typer.Option(
            "-f",
            "--file",
            metavar="FILE",
            help="Compose configuration files (repeatable; '-' reads stdin).",
        ),
    ] = None,
    project_name: Annotated[
        str | None, typer.Option("-p", "--project-name", metavar="NAME", help="Project name.")
    ] = None,
    env_file: Annotated[
        list[str] | None,
        typer.Option(
            "--env-file", metavar="PATH", help="Alternate environment files (repeatable)."
        ),
    ] = None,
    profile: Annotated[
        list[str] | None,
        typer.Option("--profile", metavar="PROFILE", help="Profiles to enable (repeatable)."),
    ] = None,
    project_directory: Annotated[
        str | None,
        typer.Option(
            "--project-directory",
            metavar="DIR",
            help="Alternate working directory (default: the directory of the first compose file).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Debug output.")] = False,
    progress: Annotated[
        str,
        typer.Option(
            "--progress",
            metavar="MODE",
            envvar="COMPOSE_PROGRESS",
            help="Progress output: auto, tty, plain, json, quiet.",
        ),
    ] = "auto",
    ansi: Annotated[
        str,
        typer.Option(
            "--ansi",
            metavar="MODE",
            envvar="COMPOSE_ANSI",
            help="Control characters: auto, never, always.",
        ),
    ] = "auto",
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            metavar="N",
            envvar="COMPOSE_PARALLEL_LIMIT",
            help="Maximum parallelism, -1 for unlimited.",
        ),
    ] = -1,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Not supported by pycompose (rejected).")
    ] = False,
) -> None:
    """Run multi-container applications from compose files on pycompose's own engine."""
    if progress not in _PROGRESS:
        raise typer.BadParameter(f"must be one of {', '.join(_PROGRESS)}", param_hint="--progress")
    if ansi not in _ANSI:
        raise typer.BadParameter(f"must be one of {', '.join(_ANSI)}", param_hint="--ansi")
    if dry_run:
        raise typer.BadParameter(
            "dry-run mode is not supported by pycompose", param_hint="--dry-run"
        )
    terminal.configure(ansi)
    terminal.setup_logging(verbose)
    ctx.obj = CliContext(
        files=tuple(file or ()),
        project_name=project_name,
        env_files=tuple(env_file or ()),
        profiles=tuple(profile or ()),
        project_directory=project_directory,
        verbose=verbose,
        progress=progress,
        ansi=ansi,
        dry_run=dry_run,
        parallel=parallel,
    )


def build_app(argv: list[str] | None = None) -> typer.Typer:
    """The typer application. With ``argv``, only the invoked command is built: typer turns
    every registered command into a click command on each run (~2 ms each) and command modules
    may import more than they should, so a plain ``pycompose config`` imports and builds the
    config command alone. ``--help``, no command or an unknown name register everything."""
    fastparams.install()
    app = typer.Typer(
        name="pycompose",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_global_options)
    wanted = invoked_command(argv) if argv is not None else None
    if wanted in COMMAND_MODULES:
        importlib.import_module(f"compose.cli.commands.{wanted}").register(app)
        if _keep_only(app, wanted):
            return app
    for name in COMMAND_MODULES:
        importlib.import_module(f"compose.cli.commands.{name}").register(app)
    if wanted is not None:
        _keep_only(app, wanted)
    elif argv is not None:
        _list_only(app)
    return app


def _list_only(app: typer.Typer) -> None:
    """For the top-level help no command runs: give each a parameterless stand-in, so typer
    does not evaluate ~40 signatures (about half of ``--help``'s time) to list names and
    one-line helps."""
    for info in app.registered_commands:
        original = info.callback
        if original is None:
            continue
        if info.help is None:
            info.help = original.__doc__

        def stand_in() -> None:  # pragma: no cover - never invoked: help exits first
            return None

        stand_in.__name__ = original.__name__
        info.callback = stand_in


# Global options that take a value (the others are flags).
_VALUE_OPTIONS = frozenset(
    {
        "-f",
        "--file",
        "-p",
        "--project-name",
        "--env-file",
        "--profile",
        "--project-directory",
        "--progress",
        "--ansi",
        "--parallel",
    }
)


def invoked_command(argv: list[str]) -> str | None:
    """The command name in ``argv`` (after the global options), or None for help/none."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return None
        if not arg.startswith("-") or arg == "-":
            return arg
        i += 2 if arg in _VALUE_OPTIONS else 1
    return None


def _keep_only(app: typer.Typer, name: str) -> bool:
    """Drop every registered command or group not called ``name``; False if none matches."""
    commands = [c for c in app.registered_commands if _command_name(c) == name]
    groups = [g for g in app.registered_groups if _group_name(g) == name]
    if not commands and not groups:
        return False
    app.registered_commands, app.registered_groups = commands, groups
    return True


def _command_name(info: typer.models.CommandInfo) -> str:
    callback = getattr(info.callback, "__name__", "")
    return info.name or callback.replace("_", "-")


def _group_name(info: typer.models.TyperInfo) -> str | None:
    instance = info.typer_instance
    return info.name or (instance.info.name if instance is not None else None)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (the catch-all for every error root)."""
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args
    try:
        result = build_app(args)(args=args, prog_name="pycompose", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except KeyboardInterrupt:
        terminal.error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the catch-all: map error roots to exit codes
        return _report(exc, verbose)


def _report(exc: Exception, verbose: bool) -> int:
    from typer._click.exceptions import ClickException

    from compose.errors import ComposeError

    if isinstance(exc, ClickException):
        exc.show()
        return exc.exit_code
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, typer.Abort):
        terminal.error("aborted")
        return EXIT_INTERRUPTED
    if verbose:
        log.exception("command failed")
    if isinstance(exc, ComposeError):
        terminal.error(str(exc))
        return exc.exit_code
    engine_error = _engine_error_type()
    if engine_error is not None and isinstance(exc, engine_error):
        terminal.error(str(exc))
        return 1
    if not verbose:
        terminal.error(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
    return 1


def _engine_error_type() -> type[Exception] | None:
    try:
        from engine.errors import EngineError
    except ImportError:  # pragma: no cover - the engine package ships with pycompose
        return None
    return EngineError


def run() -> None:
    """Console-script entry point (``pycompose``)."""
    sys.exit(main())


if __name__ == "__main__":
    run()
