"""``pycompose`` entry point: a thin front that imports only what the invoked command uses, and
the one catch-all that turns error roots into exit codes and one-line messages (never a
traceback for a user mistake; ``-v`` prints it for debugging).

Adding a command:

1. write ``compose/cli/commands/<module>.py`` exposing ``register(app: typer.Typer)``, which
   adds the command (its heavy imports go inside the command function, not at module level);
2. add one line ``"<name as typed>": "<module>"`` to :data:`COMMANDS` below (a module that
   registers several names, like ``images`` with its ``image`` group, gets one line per name);
3. regenerate the top-level help, which ``pycompose --help`` prints without importing typer:
   ``.venv/bin/python -m compose.cli.helpgen`` (``tests/unit/cli/test_helptext.py`` fails
   until it matches what typer renders).

How a command line runs: ``--help``/no arguments print :mod:`compose.cli.helptext`; a plain
``ps``, ``config``, ``exec``, ``run``, ``up`` or ``down`` line is parsed by
:mod:`compose.cli.lean` from the command's own typer declarations, without importing typer;
anything else builds the typer application (:mod:`compose.cli.app`) with only the invoked
command's module imported and registered.
"""

from __future__ import annotations

import gc
import os
import sys

TYPE_CHECKING = False  # (typing is not loaded: the thin client's path imports this module)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

# Nothing else at module level: `pycompose --help` runs on os and sys alone.

# Command name -> module in compose.cli.commands (listing order is the help's order).
COMMANDS: dict[str, str] = {
    "config": "config",
    "convert": "convert",
    "graph": "graph",
    "images": "images",
    "pull": "pull",
    "build": "build",
    "push": "push",
    # orchestration (compose/orchestrator)
    "up": "up",
    "down": "down",
    "ps": "ps",
    "logs": "logs",
    "exec": "exec",
    "attach": "attach",
    "run": "run",
    "create": "create",
    "start": "start",
    "stop": "stop",
    "restart": "restart",
    "kill": "kill",
    "rm": "rm",
    "pause": "pause",
    "unpause": "unpause",
    "top": "top",
    "port": "port",
    "wait": "wait",
    "events": "events",
    "cp": "cp",
    "ls": "ls",
    "stats": "stats",
    "version": "version",
    "volumes": "volumes",
    "scale": "scale",
    "export": "export",
    "commit": "commit",
    "publish": "publish",
    "watch": "watch",
    "image": "images",
    # beyond one machine (compose/k8s)
    "deploy": "deploy",
    "undeploy": "deploy",
}
COMMAND_MODULES: list[str] = list(dict.fromkeys(COMMANDS.values()))
# Frequent commands parsed without typer (compose.cli.lean): a bad option value the command
# itself finds (ps --status x) makes it run again through typer, which words the error; so a
# command listed here raises such errors only before it changes anything (run: --pull; up:
# --pull, --scale, COMPOSE_REMOVE_ORPHANS; down: COMPOSE_REMOVE_ORPHANS).
LEAN_COMMANDS = frozenset({"ps", "config", "exec", "run", "up", "down"})
# Commands that never touch the engine: a non-root user runs them outside the rootless namespaces.
NO_ENGINE_COMMANDS = frozenset({"config", "convert", "graph", "version"})

EXIT_INTERRUPTED = 130
EXIT_USAGE = 2
HELP_WIDTH = 80  # help is rendered at click's maximum width; narrower terminals go to typer

# Global options that take a value (the others are flags).
_VALUE_OPTIONS = frozenset({"-f", "--file", "-p", "--project-name", "--env-file", "--profile",
                            "--project-directory", "--progress", "--ansi", "--parallel"})


def invoked_command(argv: list[str]) -> str | None:
    """The command name in ``argv`` (after the global options), or None for help/none."""
    at = invoked_index(argv)
    return None if at is None else argv[at]


def invoked_index(argv: list[str]) -> int | None:
    """Where the command name is in ``argv``, or None for help/none."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            return None
        if not arg.startswith("-") or arg == "-":
            return i
        i += 2 if arg in _VALUE_OPTIONS else 1
    return None


def build_app(argv: list[str] | None = None) -> object:
    """The typer application for ``argv`` (see :func:`compose.cli.app.build_app`)."""
    from compose.cli.app import build_app as build

    return build(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (the catch-all for every error root)."""
    args = sys.argv[1:] if argv is None else argv
    at = invoked_index(args)  # a command's own -v (run/down) is not the global one
    verbose = any(a in ("-v", "--verbose") for a in args[:len(args) if at is None else at])
    try:
        quick = _top_level_help(args)
        if quick is None and os.geteuid() != 0:
            _enter_rootless(args)
        if quick is None:
            _resume_gc_later()  # (not before: joining the rootless namespaces needs one thread)
            from engine import regex_cache

            regex_cache.install()  # before anything compiles a pattern (dataclasses does)
            from engine import dataclass_cache

            dataclass_cache.install()  # before any command module defines its dataclasses
            quick = _run_lean(args)
        if quick is not None:
            code = quick
        else:
            from compose.cli import app

            result = app.run(args)
            code = result if isinstance(result, int) else 0
        if code == 0 and invoked_command(args) == "down" and "engine.rootless.join" in sys.modules:
            sys.modules["engine.rootless.join"].release()  # the last project gone: stop the set
        return code
    except KeyboardInterrupt:
        from compose.cli import terminal

        terminal.error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:  # the catch-all: map error roots to exit codes
        return _report(exc, verbose)


def _enter_rootless(args: list[str]) -> None:
    """A non-root user: join the rootless namespaces before anything starts a thread (the
    commands that never touch the engine stay outside)."""
    if invoked_command(args) in (None, *NO_ENGINE_COMMANDS) or "--help" in args:
        return
    from engine.rootless.join import enter

    enter()


def _top_level_help(args: list[str]) -> int | None:
    """``pycompose --help`` (exit 0, stdout) and bare ``pycompose`` (exit 2, stderr) from
    the pre-rendered text; None when typer must render (a terminal narrower than the text)."""
    if args not in ([], ["-h"], ["--help"]) or _terminal_width() < HELP_WIDTH:
        return None
    from compose.cli.helptext import TOP_LEVEL_HELP

    stream = sys.stdout if args else sys.stderr
    stream.write(TOP_LEVEL_HELP)
    stream.flush()
    return 0 if args else EXIT_USAGE


def _run_lean(args: list[str]) -> int | None:
    """Run a frequent read-only command without typer (:mod:`compose.cli.lean`); None when
    typer must parse this command line."""
    at = invoked_index(args)
    if at is None or args[at] not in LEAN_COMMANDS:
        return None
    from compose.cli import lean

    try:
        result = lean.run(args, at, COMMANDS[args[at]])
    except lean.Fallback:
        return None
    except Exception as exc:
        if lean.is_usage_error(exc):
            return None  # typer runs it again and words the error with its usage line
        raise
    return result if isinstance(result, int) else 0


def _terminal_width() -> int:
    """The width click formats help for: ``COLUMNS``, else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return HELP_WIDTH
    return columns if columns > 0 else HELP_WIDTH


def _report(exc: Exception, verbose: bool) -> int:
    import logging

    import typer
    from typer._click.exceptions import ClickException

    from compose.cli import terminal
    from compose.errors import ComposeError

    if isinstance(exc, ClickException):
        exc.show()
        return 1  # docker compose: 1 for a bad flag or argument as for any failure (click: 2)
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if isinstance(exc, typer.Abort):
        terminal.error("aborted")
        return EXIT_INTERRUPTED
    if verbose:
        logging.getLogger(__name__).exception("command failed")
    if isinstance(exc, ComposeError):
        terminal.error(str(exc))
        return exc.exit_code
    from engine.errors import EngineError

    if isinstance(exc, EngineError):
        terminal.error(str(exc))
        return 1
    if not verbose:
        terminal.error(f"internal error: {type(exc).__name__}: {exc} (run with -v for details)")
    return 1


def run() -> None:
    """Console-script entry point (``pycompose``): the command runs in the state root's warm
    engine when one serves (:mod:`compose.cli.warmclient`), else in this process (the cyclic
    garbage collector paused while it starts: :func:`_resume_gc_later`)."""
    gc.disable()
    os.register_at_fork(after_in_child=gc.enable)  # a forked daemon or child collects as usual
    args = sys.argv[1:]
    command = invoked_command(args)
    if command is not None and "--help" not in args and "-h" not in args:
        from compose.cli import warmclient

        if not warmclient.interactive(command, args):
            try:
                gc.enable()  # the thin client allocates little, and may relay for hours
                sys.exit(warmclient.run(args))
            except warmclient.Absent as absent:
                gc.disable()
                # (after a down, usually nothing is left to serve)
                if absent.spawn and command not in (*NO_ENGINE_COMMANDS, "down"):
                    warmclient.start_engine(command)
                    code = main()
                    warmclient.report_modules()
                    end_without_teardown(code)
    end_without_teardown(main())


GC_PAUSE = 1.0  # seconds


def _resume_gc_later() -> None:
    """Let the cyclic garbage collector run again :data:`GC_PAUSE` s from now, if :func:`run`
    paused it. A command's start-up creates some 100,000 objects (modules, classes, functions)
    that live until it ends: collecting while they pile up found nothing to free and took
    3-4 ms of a `config` and 7-8 ms of a first `up` (30-60 young collections). A command done
    within the pause never collects; a longer one (an attached `up`, `logs -f`) collects as
    usual from then on, its start-up objects frozen out of the collector's way."""
    if gc.isenabled():
        return
    import _thread  # (threading, not otherwise loaded by `config`, costs ~0.7 ms)

    _thread.start_new_thread(_resume_gc, (GC_PAUSE,))  # never joined: it ends with the process


def _resume_gc(after: float) -> None:
    import time

    time.sleep(after)
    gc.collect()  # (what is garbage already must not be frozen with the rest)
    gc.freeze()
    gc.enable()


def end_without_teardown(code: int, last: Callable[[int], None] | None = None) -> NoReturn:
    """End as the interpreter would (non-daemon threads joined, exit handlers run, standard
    streams flushed; ``last(status)`` then), but without tearing down its modules: freeing
    every module and object of a cold ``up`` took 50-60 ms, and the kernel frees the memory at
    once (SQLite's write-ahead log needs no close). The command run in this process, and a
    command child of the warm engine, end here."""
    status = code & 0xFF if code >= 0 else 1
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()  # type: ignore[attr-defined]
        import atexit

        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nothing more to say
                pass
        if last is not None:
            last(status)
        os._exit(status)


if __name__ == "__main__":
    run()
