"""One module per command; each exposes ``register(app: typer.Typer) -> None``.

To add a command, add its module name to ``COMMAND_MODULES`` in :mod:`compose.cli.main`.
Command modules import heavy dependencies inside the command function, not at module level.
"""
