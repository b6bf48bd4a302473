"""pycompose engine: images, volumes, networks, containers and the OCI runtime.

The engine never imports ``compose``: plain dataclass specs come in, engine objects come out.
"""
