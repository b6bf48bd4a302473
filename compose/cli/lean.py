"""Running a plain command line without importing typer (~25 ms of start-up).

For the commands run most often (``LEAN_COMMANDS`` in :mod:`compose.cli.main`), the command line
is parsed here from the same typer declarations the command module already has: with
``from __future__ import annotations`` a parameter's annotation is a string such as
``Annotated[bool, typer.Option('-a', '--all', help=...)]``, evaluated with stand-ins that record
the declaration (:func:`_evaluated`). typer itself is registered as a lazy stand-in module
(:class:`_LazyTyper`), so the command modules' ``import typer`` costs nothing until an
attribute of it is used.

Only the plain success path is handled: long and short options with a value (``--x v``,
``--x=v``), flags, repeated list options, arguments, ``COMPOSE_*`` environment defaults.
Anything else (``--help``, an unknown or clustered option, a bad value, a missing argument,
an option declaration this parser does not know) returns None before anything has run, and
the caller goes through typer, which prints its usual help or error. Agreement with typer's
parsing is tested per command.
"""
from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any


_SCALARS: dict[str, Callable[[str], Any]] = {"str": str, "int": int, "float": float}


class Fallback(Exception):
    """This command line is not for the lean parser: let typer handle it."""


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a command function, as declared for typer."""

    name: str
    kind: str  # "context" | "option" | "argument" | "rejected"
    scalar: str = "str"  # str | int | float | bool
    many: bool = False  # list[...]
    flags: tuple[str, ...] = ()
    off_flags: tuple[str, ...] = ()  # the "--no-x" of a "--x/--no-x" flag pair
    envvar: str | None = None
    default: Any = None
    required: bool = False


class _Context:
    """What a command reads from ``typer.Context``: ``obj`` (the :class:`CliContext`)."""

    def __init__(self) -> None:
        self.obj: Any = None


class _LazyTyper(types.ModuleType):
    """Stands in for ``typer`` in ``sys.modules`` until an attribute is asked of it; then the
    real typer is imported and answers (``importlib.util.LazyLoader`` cannot serve here: the
    import statement itself reads ``__spec__``, which loads the module)."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("typer") is self:
            del sys.modules["typer"]
        import importlib

        return getattr(importlib.import_module("typer"), name)


def install_lazy_typer() -> None:
    """Make ``import typer`` free: the module loads on its first attribute access."""
    if "typer" not in sys.modules:
        sys.modules["typer"] = _LazyTyper("typer")


_params: dict[Callable[..., Any], list[Param]] = {}


def params_of(fn: Callable[..., Any]) -> list[Param]:
    """The parameters of a typer command function (Fallback for anything unsupported); read
    once per function (the warm engine reads them all before forking: :func:`prepare`)."""
    known = _params.get(fn)
    if known is None:
        known = _params[fn] = _read_params(fn)
    return known


def prepare(commands: dict[str, str]) -> None:
    """Read the declarations of the global options and of ``commands`` (name -> module)."""
    import importlib

    from compose.cli import app

    params_of(app._global_options)
    for name, module in commands.items():
        recorder = _Recorder()
        importlib.import_module(f"compose.cli.commands.{module}").register(recorder)
        fn = recorder.commands.get(name)
        if fn is not None:
            try:
                params_of(fn)
            except Fallback:
                continue


def _read_params(fn: Callable[..., Any]) -> list[Param]:
    code = fn.__code__  # type: ignore[attr-defined]
    names = code.co_varnames[:code.co_argcount]
    defaults = fn.__defaults__ or ()  # type: ignore[attr-defined]
    first_default = len(names) - len(defaults)
    out = []
    for i, name in enumerate(names):
        text = fn.__annotations__.get(name)
        if not isinstance(text, str):
            raise Fallback(name)
        has_default = i >= first_default
        default = defaults[i - first_default] if has_default else None
        out.append(_param(name, text, default, not has_default, fn.__globals__))
    return out


def _param(name: str, text: str, default: Any, required: bool,
           namespace: dict[str, Any]) -> Param:
    if text == "typer.Context":
        return Param(name, "context")
    base, decl = _evaluated(name, text, namespace)
    if decl.maker == "rejected":
        # a docker flag pycompose refuses: never in the lean parser's flags, so giving it
        # falls back to typer, which prints the refusal; absent, the default is passed
        return Param(name, "rejected", default=default)
    scalar, many = _type_of(name, base)
    keywords = decl.keywords
    if "callback" in keywords and not set(keywords) - {"help", "metavar", "hidden", "callback",
                                                        "is_eager"}:
        # an option that acts when given (--version): giving it goes to typer; absent, its
        # callback would do nothing with the default
        return Param(name, "rejected", default=default)
    if set(keywords) - {"help", "metavar", "envvar", "hidden", "show_default"}:
        raise Fallback(name)  # parsers, callbacks, bounds...: typer's job
    envvar = keywords.get("envvar")
    if not isinstance(envvar, str | None) or not all(isinstance(a, str) for a in decl.args):
        raise Fallback(name)
    if decl.maker == "typer.Argument":
        if decl.args or scalar == "bool":
            raise Fallback(name)
        return Param(name, "argument", scalar, many, default=default, required=required)
    flags, off_flags = _flags(name, list(decl.args), scalar)
    return Param(name, "option", scalar, many, flags, off_flags, envvar, default, required)


class _Declared:
    """What ``typer.Option(...)``, ``typer.Argument(...)`` or ``rejected(...)`` in an
    annotation evaluates to for this parser: the call, recorded."""

    __slots__ = ("args", "keywords", "maker")

    def __init__(self, maker: str, args: tuple[Any, ...], keywords: dict[str, Any]) -> None:
        self.maker, self.args, self.keywords = maker, args, keywords


class _Annotation:
    """``Annotated[base, declaration]``, evaluated to the pair."""

    def __class_getitem__(cls, item: Any) -> Any:
        return _Annotation, item


def _recorder(maker: str) -> Callable[..., _Declared]:
    return lambda *args, **keywords: _Declared(maker, args, keywords)


# The names an annotation is read with (before the module's own names and the builtins):
# ``Annotated[bool, typer.Option("-a", "--all", help=...)]`` evaluates to
# ``(_Annotation, (bool, _Declared("typer.Option", ("-a", "--all"), {"help": ...})))``.
_READING = {"Annotated": _Annotation, "rejected": _recorder("rejected"),
            "typer": types.SimpleNamespace(Option=_recorder("typer.Option"),
                                           Argument=_recorder("typer.Argument"))}


def _evaluated(name: str, text: str, namespace: dict[str, Any]) -> tuple[Any, _Declared]:
    """The type and the declaration of an ``Annotated[type, declaration]`` annotation,
    evaluated in the function's module with the names above standing in (compiling the text
    to an AST instead loads ``_ast``: ~0.7 ms of every lean command)."""
    try:
        kind, item = eval(text, namespace, _READING)  # noqa: S307
    except Exception:  # a name or a shape this parser does not know: typer's job
        raise Fallback(name) from None
    if kind is not _Annotation or not (isinstance(item, tuple) and len(item) == 2
                                       and isinstance(item[1], _Declared)):
        raise Fallback(name)
    return item[0], item[1]


def _flags(name: str, decls: list[str], scalar: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The flags of an option, and the off flags of a boolean ``--x/--no-x`` declaration."""
    on: list[str] = []
    off: list[str] = []
    for decl in decls:
        first, slash, second = decl.partition("/")
        if slash and (scalar != "bool" or off):
            raise Fallback(name)
        on.append(first)
        if slash:
            off.append(second)
    if not on or any(not f.startswith("-") or " " in f or "/" in f for f in on + off):
        raise Fallback(name)  # derived names: typer's job
    return tuple(on), tuple(off)


_SCALAR_NAMES = {str: "str", int: "int", float: "float", bool: "bool"}


def _type_of(name: str, base: Any) -> tuple[str, bool]:
    """(scalar, many) of ``X``, ``X | None``, ``list[X]`` or ``list[X] | None``."""
    if isinstance(base, types.UnionType):
        if len(base.__args__) != 2 or base.__args__[1] is not type(None):
            raise Fallback(name)
        base = base.__args__[0]
    many = isinstance(base, types.GenericAlias) and base.__origin__ is list
    if many:
        if len(base.__args__) != 1:
            raise Fallback(name)
        base = base.__args__[0]
    scalar = _SCALAR_NAMES.get(base) if isinstance(base, type) else None
    if scalar is None or (many and scalar == "bool"):
        raise Fallback(name)
    return scalar, many


def go_bool(text: str) -> bool | None:
    """A Go bool flag's value (``1``/``t``/``true``, ``0``/``f``/``false``, any case), None
    for anything else."""
    text = text.strip().lower()
    return True if text in ("1", "t", "true") else False if text in ("0", "f", "false") \
        else None


def parse(params: list[Param], argv: list[str], interspersed: bool = True) -> dict[str, Any]:
    """Keyword arguments for the command function, as typer would pass them. Without
    ``interspersed`` (exec, run), everything from the first argument on is an argument."""
    by_flag = {f: p for p in params if p.kind == "option" for f in p.flags + p.off_flags}
    values: dict[str, Any] = {}
    positional: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if positional and not interspersed:
            positional.append(arg)
            continue
        if arg == "--" or arg in ("-h", "--help") or (arg.startswith("-") and arg != "-"
                                                       and arg.split("=")[0] not in by_flag):
            raise Fallback(arg)
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        flag, eq, inline = arg.partition("=")
        p = by_flag[flag]
        if p.scalar == "bool":
            truth = go_bool(inline) if eq else True
            if truth is None or (truth is False and not p.off_flags):
                raise Fallback(arg)  # (compose.cli.app.go_bools knows what =false means)
            # (--flag=false, as Go flags take it: the flag's opposite)
            values[p.name] = (flag not in p.off_flags) is truth
            continue
        if not eq:
            if i >= len(argv):
                raise Fallback(arg)
            inline, i = argv[i], i + 1
        value = _convert(p, inline)
        if p.many:
            values.setdefault(p.name, []).append(value)
        else:
            values[p.name] = value
    _take_arguments(params, positional, values)
    return {p.name: _final(p, values) for p in params if p.kind != "context"}


def _take_arguments(params: list[Param], positional: list[str], values: dict[str, Any]) -> None:
    arguments = [p for p in params if p.kind == "argument"]
    if sum(p.many for p in arguments) > 1 or (arguments and arguments[-1].many is False
                                              and len(positional) > len(arguments)):
        raise Fallback("arguments")
    for p in arguments:
        if p.many:
            taken, positional = positional, []
            if taken:
                values[p.name] = [_convert(p, v) for v in taken]
        elif positional:
            values[p.name] = _convert(p, positional.pop(0))
        elif p.required:
            raise Fallback(p.name)
    if positional:
        raise Fallback("extra arguments")


def _convert(p: Param, text: str) -> Any:
    try:
        return _SCALARS[p.scalar](text)
    except ValueError:
        raise Fallback(text) from None


def _final(p: Param, values: dict[str, Any]) -> Any:
    if p.name in values:
        return values[p.name]
    if p.required:
        raise Fallback(p.name)
    if p.envvar and os.environ.get(p.envvar):
        if p.many or p.scalar == "bool":
            raise Fallback(p.envvar)
        return _convert(p, os.environ[p.envvar])
    return p.default


class _Recorder:
    """Stands in for the typer app in a command module's ``register``: records the functions
    registered under each name, without typer."""

    def __init__(self) -> None:
        self.commands: dict[str, Callable[..., Any]] = {}
        self.interspersed: dict[str, bool] = {}

    def command(self, name: str | None = None, *, context_settings: dict[str, Any] | None = None,
                **_: Any) -> Callable[[Any], Any]:
        settings = dict(context_settings or {})
        if set(settings) - {"allow_interspersed_args"}:
            raise Fallback(f"context settings {sorted(settings)}")

        def record(fn: Callable[..., Any]) -> Callable[..., Any]:
            key = name or fn.__name__.replace("_", "-")
            self.commands[key] = fn
            self.interspersed[key] = bool(settings.get("allow_interspersed_args", True))
            return fn
        return record

    def add_typer(self, *_: Any, **__: Any) -> None:
        return None  # groups are never lean


def run(argv: list[str], at: int, module: str) -> Any:
    """Run ``argv`` (global options, the command at index ``at``, its arguments) without
    typer; raises Fallback, before running anything, when typer must handle it."""
    install_lazy_typer()
    import importlib

    from compose.cli import app

    recorder = _Recorder()
    importlib.import_module(f"compose.cli.commands.{module}").register(recorder)
    fn = recorder.commands.get(argv[at])
    if fn is None:
        raise Fallback(argv[at])
    global_kwargs = parse(params_of(app._global_options), argv[:at])
    if (global_kwargs["dry_run"] or global_kwargs["progress"] not in app.PROGRESS_MODES
            or global_kwargs["ansi"] not in app.ANSI_MODES):
        raise Fallback("global options")  # typer words these errors
    kwargs = parse(params_of(fn), argv[at + 1:], recorder.interspersed[argv[at]])
    ctx = _Context()
    app._global_options(ctx, **global_kwargs)  # type: ignore[arg-type]
    return fn(ctx, **kwargs)


def is_usage_error(exc: BaseException) -> bool:
    """Whether a command raised typer's usage error (a bad option value found by the command
    itself), which typer should word with its usage line: the caller runs the (read-only)
    command again through typer."""
    if not type(exc).__module__.startswith("typer"):
        return False
    from typer._click.exceptions import UsageError

    return isinstance(exc, UsageError)
