"""Write compose files into a temporary directory and load them without the real env."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from compose.config import LoadOptions, load
from compose.config.model import Project


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load_in(directory: Path, env: dict[str, str] | None = None, **options: Any) -> Project:
    for key in ("files", "env_files", "profiles", "services"):
        if key in options:
            options[key] = tuple(options[key])
    return load(LoadOptions(working_dir=str(directory), environ=env or {}, **options))
