"""Option helpers shared by the commands: docker flags pycompose rejects with a message (never
accepted and ignored), and parsing shared by several commands (durations, filters)."""
from __future__ import annotations

import time
from collections.abc import Mapping

import typer

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    from compose.config.model import Project

REJECTED_ATTR = "__pycompose_rejected__"


class _Annotated:
    """``typing.Annotated`` for the commands' typer declarations, without loading ``typing``
    (~2 ms of a `config` run in-process): the lean parser (compose.cli.lean) reads those
    annotations as text; typer and ``inspect`` evaluate them, and subscripting this gives the
    real ``Annotated[...]`` then. A module uses it as
    ``if TYPE_CHECKING: from typing import Annotated`` / ``else: from compose.cli.options
    import Annotated``."""

    def __getitem__(self, params: Any) -> Any:
        import typing

        return typing.Annotated[params]


Annotated = _Annotated()


def rejected(*names: str, reason: str, takes_value: bool = False) -> Any:
    """A typer option that fails with ``NAME is not supported by pycompose: REASON`` when it
    is given. ``reason`` is kept on the callback for the README's flag table."""
    def check(ctx: typer.Context, param: object, value: object) -> object:  # (typer reads it)
        if value not in (None, False, (), []):
            flag = next((n for n in names if n.startswith("--")), names[0])
            raise typer.BadParameter(f"not supported by pycompose: {reason}",
                                     param_hint=flag)
        return value

    setattr(check, REJECTED_ATTR, reason)
    kwargs: dict[str, Any] = {"metavar": "VALUE"} if takes_value else {}
    return typer.Option(*names, callback=check, help=f"Not supported: {reason}.", **kwargs)


def parse_go_bool(value: str, flag: str) -> bool:
    """``true``/``false`` like a Go bool flag given with ``=``."""
    from compose.cli.lean import go_bool

    truth = go_bool(value)
    if truth is None:
        raise typer.BadParameter(f"invalid boolean {value!r}", param_hint=flag)
    return truth


def env_flag(env: Mapping[str, str], name: str) -> bool:
    """A boolean environment setting the way docker compose reads one (``true``, ``1``,
    ``t``, ``y``... in any case; anything else is false)."""
    return env.get(name, "").strip().lower() in ("1", "t", "true", "y")


def parse_timestamp(text: str, flag: str) -> float:
    """A docker ``--since``/``--until`` value as a Unix time: an RFC 3339 date or time, a
    Unix timestamp (``1700000000[.5]``) or a duration before now (``10m``)."""
    from compose.cli.commands._orch import parse_time
    from engine.containers.logfile import normalize_since

    try:
        iso = normalize_since(text)
    except ValueError:
        raise typer.BadParameter(f"invalid time {text!r} (RFC 3339, Unix timestamp or "
                                 "duration like 10m)", param_hint=flag) from None
    return parse_time(iso).timestamp() if iso else time.time()


NOOP_ATTR = "__pycompose_noop__"


def noop(*names: str, reason: str) -> Any:
    """A docker flag that has nothing to change in pycompose (e.g. ``--yes``: pycompose never
    prompts). Accepted, and ``reason`` says why in ``--help`` and the README's flag table."""
    def keep(value: object) -> object:  # (typer reads its annotations)
        return value

    setattr(keep, NOOP_ATTR, reason)
    return typer.Option(*names, callback=keep, help=f"Accepted; {reason}.")


PULL_VALUES = ("always", "missing", "never", "build", "if_not_present", "policy")


def apply_pull_flag(project: Project, pull: str) -> Project:
    """docker compose's rule: an explicit ``--pull`` replaces every service's
    ``pull_policy``; the default ``policy`` keeps each service's own (missing if unset)."""
    import dataclasses

    if pull not in PULL_VALUES:
        raise typer.BadParameter(f"invalid --pull option {pull!r} (one of "
                                 f"{', '.join(PULL_VALUES)})", param_hint="--pull")
    if pull == "policy":
        return project
    value = "missing" if pull == "if_not_present" else pull
    services = {n: dataclasses.replace(s, pull_policy=value) for n, s in project.services.items()}
    return dataclasses.replace(project, services=services)


def template_of(fmt: str, table: str) -> str:
    """A ``--format`` value as a Go template: ``table`` (or empty) is ``table``, ``json`` one
    JSON object per line; anything else must be a template."""
    from compose.cli.gotemplate import is_template

    if fmt in ("table", ""):
        return table
    if fmt == "json":
        return "{{json .}}"
    if not is_template(fmt):
        raise typer.BadParameter(f"format value {fmt!r} could not be parsed (table, json or "
                                 "a Go template)", param_hint="--format")
    return fmt
