"""``pycompose publish``: docker compose publishes a compose application as an OCI artifact;
pycompose rejects it with a message rather than an unknown-command error."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli.options import REJECTED_ATTR
from compose.errors import ComposeError

REASON = "publishing a compose application to an OCI registry"


def register(app: typer.Typer) -> None:
    """Add the ``publish`` command to ``app``."""
    app.command("publish", help=f"Not supported: {REASON}.",
                context_settings={"ignore_unknown_options": True,
                                  "allow_extra_args": True})(publish_command)


def publish_command(
    args: Annotated[list[str] | None, typer.Argument(metavar="[OPTIONS] REPOSITORY[:TAG]")
                    ] = None,
) -> int:
    """Always an error: the command is not supported."""
    raise ComposeError(f"publish is not supported by pycompose ({REASON})")


setattr(publish_command, REJECTED_ATTR, REASON)
