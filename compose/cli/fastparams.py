"""Cheaper parameter coercion for typer.

This typer release coerces every non-flag parameter through a pydantic TypeAdapter, which costs
~50 ms of imports and schema building on every command line — a third of the start-up budget.
For the plain annotations our commands use (``str``, ``int``, ``float``, ``bool``, their
``| None`` forms and ``list[...]`` of them, with no parser or bounds) a direct conversion gives
the same result.
Anything else still goes through typer's own path. If typer's internals change, :func:`install`
does nothing and typer keeps working as shipped.
"""
from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass

TYPE_CHECKING = False  # (typing is not loaded on the config path: typer's path loads it)
if TYPE_CHECKING:
    from typing import Any

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _to_bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(value)


_SCALARS: dict[Any, Callable[[Any], Any]] = {str: str, int: int, float: float, bool: _to_bool}
_NAMES = {str: "text", int: "integer", float: "number", bool: "boolean"}


def _scalar(annotation: Any) -> Any | None:
    """``str``/``int``/``float``/``bool`` for ``X`` or ``X | None``, else None."""
    if annotation in _SCALARS:
        return annotation
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and args[0] in _SCALARS:
            return args[0]
    return None


def _converter(annotation: Any) -> tuple[Any, bool] | None:
    """(scalar type, is_list) when ``annotation`` is simple enough, else None."""
    scalar = _scalar(annotation)
    if scalar is not None:
        return scalar, False
    import typing

    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation) or (str,)
        if item in _SCALARS:
            return item, True
    return None


def install() -> None:
    """Route simple parameters around typer's pydantic coercion (idempotent)."""
    try:
        from typer import core
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
    except ImportError:  # a typer without these internals: nothing to speed up
        return
    param_class = getattr(core, "_TyperParameter", None)
    original = getattr(param_class, "get_runtime_param", None)
    if param_class is None or original is None or getattr(original, "_pycompose", False):
        return

    @dataclass(frozen=True)
    class SimpleParam(RuntimeParam):  # type: ignore[misc]
        scalar: Any = str
        is_list: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.is_list:
                return [self._one(v, param, ctx) for v in value]
            return self._one(value, param, ctx)

        def _one(self, value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is self.scalar:
                return value
            try:
                return _SCALARS[self.scalar](value)
            except (TypeError, ValueError):
                raise BadParameter(f"{value!r} is not a valid {_NAMES[self.scalar]}.",
                                   ctx=ctx, param=param) from None

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            desc = self.type_descriptor
            info = desc.parameter_info
            simple = None if desc.file_annotation is not None else _converter(desc.annotation)
            plain = (getattr(info, "parser", None) is None and getattr(info, "min", None) is None
                     and getattr(info, "max", None) is None)
            if simple is not None and plain:
                self._runtime_param = SimpleParam(
                    parameter_info=info, annotation=desc.annotation, scalar=simple[0],
                    is_list=simple[1])
        return original(self)

    get_runtime_param._pycompose = True  # type: ignore[attr-defined]
    param_class.get_runtime_param = get_runtime_param
