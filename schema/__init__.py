"""JSON Schema of the Compose Specification, shipped as package data.

Parsed once per machine rather than once per command: the parsed schema is kept in
``__pycache__`` as a marshal file stamped with the JSON file's modification time and size
(the rules of the ``.pyc`` files beside it; written only when bytecode may be written), which
every later process reads instead of importing :mod:`json` and parsing 40 kB (~1.3 ms).
"""
from __future__ import annotations

import marshal
import os
import sys
from functools import cache

# (a str, not a pathlib.Path: pathlib, with urllib.parse and ipaddress, is ~2.5 ms of a
# `config` that otherwise does not load it)
_HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(_HERE, "compose-spec.json")
_CACHE_PATH = os.path.join(_HERE, "__pycache__",
                           f"compose-spec.{sys.implementation.cache_tag}.marshal")


@cache
def load_compose_schema() -> dict:
    """Return the parsed compose JSON Schema."""
    stat = os.stat(SCHEMA_PATH)
    stamp = (1, stat.st_mtime_ns, stat.st_size)  # (1: this cache's format)
    try:
        with open(_CACHE_PATH, "rb") as f:
            cached_stamp, schema = marshal.loads(f.read())  # (marshal.load(f): 4x slower)
        if cached_stamp == stamp and isinstance(schema, dict):
            return schema
    except (OSError, EOFError, ValueError, TypeError):
        pass  # no cache yet, or a damaged one: parse the JSON
    import json

    with open(SCHEMA_PATH, encoding="utf-8") as f:
        schema = json.load(f)
    if not sys.dont_write_bytecode:
        from engine import cachefile

        cachefile.write(_CACHE_PATH, marshal.dumps((stamp, schema)))
    return schema
