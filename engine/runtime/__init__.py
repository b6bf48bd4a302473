"""The built-in OCI runtime (the part runc plays): applies an OCI bundle.

``BuiltinRuntime`` is a library forking containers from the calling process; ``python -m
engine.runtime`` is the runc-compatible command line.
"""
from __future__ import annotations

from engine.runtime.children import ExecFailed
from engine.runtime.runtime import BuiltinRuntime

__all__ = ["BuiltinRuntime", "ExecFailed"]
