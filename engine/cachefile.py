"""Writing the start-up caches (engine/dataclass_cache.py, engine/regex_cache.py) beside the
bytecode in ``__pycache__``."""
from __future__ import annotations

import os


def write(path: str, data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` atomically (readers see the old file or the
    new one); a read-only location is left alone."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
