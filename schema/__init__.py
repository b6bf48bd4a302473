"""JSON Schema of the Compose Specification, shipped as package data."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("compose-spec.json")


@cache
def load_compose_schema() -> dict:
    """Return the parsed compose JSON Schema."""
    return json.loads(SCHEMA_PATH.read_text())
