"""The typer application: global options and the registration of the invoked command.

Imported only when a command runs through typer (everything but the top-level help, which
:mod:`compose.cli.main` prints from :mod:`compose.cli.helptext` without importing typer).
"""

from __future__ import annotations

import importlib

import typer

from compose.cli import fastparams, terminal
from compose.cli.context import CliContext
from compose.cli.lean import go_bool
from compose.cli.main import COMMANDS, invoked_command, invoked_index
from compose.cli.options import rejected

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Annotated, Any
else:
    from compose.cli.options import Annotated  # (see there: typing stays unloaded)

PROGRESS_MODES = ("auto", "tty", "plain", "json", "quiet")
ANSI_MODES = ("auto", "never", "always")


def _print_version(value: bool) -> bool:
    if value:
        from compose.cli.commands.version import render

        terminal.line(render("pretty", short=False))
        raise typer.Exit(0)
    return value


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
        bool, rejected("--dry-run", reason="commands are not simulated; run them without it")
    ] = False,
    all_resources: Annotated[
        bool, rejected("--all-resources", reason="only the resources services use are created")
    ] = False,
    compatibility: Annotated[
        bool, rejected("--compatibility", reason="docker-compose v1 naming is not offered")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version,
                     help="Show the pycompose version information and exit."),
    ] = False,
) -> None:
    """Run multi-container applications from compose files on pycompose's own engine."""
    if progress not in PROGRESS_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(PROGRESS_MODES)}",
                                 param_hint="--progress")
    if ansi not in ANSI_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(ANSI_MODES)}", param_hint="--ansi")
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


# Click commands built ahead, by command name (the warm engine builds them all once; typer
# takes 5-10 ms to turn one command's declarations into a click command).
_prebuilt: dict[str, Any] = {}


def prebuild(name: str) -> None:
    """Build the click command of command ``name`` now (the warm engine does it for every
    command, between requests, before forking them)."""
    import typer.main

    _prebuilt[name] = typer.main.get_command(build_app([name]))


def run(argv: list[str]) -> Any:
    """Parse ``argv`` and run its command (raises what the command raises; no exit)."""
    command = _prebuilt.get(invoked_command(argv) or "")
    if command is None:
        import typer.main

        command = typer.main.get_command(build_app(argv))
    return command.main(args=go_bools(command, argv), prog_name="pycompose",
                        standalone_mode=False)


def go_bools(group: Any, argv: list[str]) -> list[str]:
    """``--flag=true`` / ``--flag=false`` for a boolean flag, as docker compose's Go flags
    take them (``up --menu=false``): the flag itself, its ``--no-`` form, or nothing (false is
    the default). Only the global options and the command's own options are rewritten, never
    an argument (nor, for ``run``/``exec``, anything from the command to run on)."""
    at = invoked_index(argv)
    command = group.commands.get(argv[at]) if at is not None else None
    out: list[str] = []
    scope, interspersed = group, True
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--" or (not interspersed and not arg.startswith("-")):
            return out + argv[i - 1:]
        if at is not None and i - 1 == at:
            scope = command or group
            interspersed = bool(getattr(command, "allow_interspersed_args", True))
            out.append(arg)
            continue
        name, eq, value = arg.partition("=")
        option = _option(scope, name) if name.startswith("--") else None
        if option is not None and eq and option.is_flag and not option.count:
            wanted = go_bool(value)
            if wanted is not None:
                if name in option.secondary_opts:
                    wanted = not wanted
                if wanted:
                    out.append(option.opts[0])
                elif option.secondary_opts:
                    out.append(option.secondary_opts[0])
                elif "--no-tty" in option.opts and _option(scope, "--tty") is not None:
                    out.append("--tty")  # an explicit --no-tty=false asks for a terminal
                continue
        elif option is not None and not eq and not option.is_flag and i < len(argv):
            out.append(arg)
            arg = argv[i]  # (its value, whatever it looks like)
            i += 1
        out.append(arg)
    return out


def _option(command: Any, name: str) -> Any:
    for param in getattr(command, "params", ()):
        if name in getattr(param, "opts", ()) or name in getattr(param, "secondary_opts", ()):
            return param if param.param_type_name == "option" else None
    return None


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
    if wanted in COMMANDS:
        importlib.import_module(f"compose.cli.commands.{COMMANDS[wanted]}").register(app)
        if _keep_only(app, wanted):
            return app
    for module in dict.fromkeys(COMMANDS.values()):
        importlib.import_module(f"compose.cli.commands.{module}").register(app)
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
