"""JSON Schema of the Compose Specification, shipped as package data."""
from __future__ import annotations

import json
import os
from functools import cache

# (a str, not a pathlib.Path: pathlib, with urllib.parse and ipaddress, is ~2.5 ms of a
# `config` that otherwise does not load it)
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compose-spec.json")


@cache
def load_compose_schema() -> dict:
    """Return the parsed compose JSON Schema."""
    with open(SCHEMA_PATH, encoding="utf-8") as f:
        return json.load(f)
