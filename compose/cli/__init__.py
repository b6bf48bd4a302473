"""The ``pycompose`` command line (typer): thin command modules over one context object."""
