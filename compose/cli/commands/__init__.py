"""One module per command; each exposes ``register(app: typer.Typer) -> None``.

To add a command, see the top of :mod:`compose.cli.main` (one line in ``COMMANDS``).
Command modules import heavy dependencies inside the command function, not at module level.
"""
