"""Addresses for unix sockets whose paths may be longer than AF_UNIX allows (108 bytes).

A state root can be deep (a user's ``$XDG_DATA_HOME``, a test's temporary directory) and a
project name long; the kernel refuses to bind or connect such a path (ENAMETOOLONG, or a
truncated name). The same file is reachable through an ``O_PATH`` descriptor of its directory,
``/proc/self/fd/N/<name>``, which is short whatever the depth; the file names we choose are
kept short by :func:`short_name`.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.digest import sha256_hex

MAX_PATH = 107  # sun_path is 108 bytes with its terminating NUL
MAX_NAME = 64


@contextmanager
def unix_address(path: Path) -> Iterator[str]:
    """A string to bind or connect to ``path``: itself when it fits, else a path through a
    descriptor of its directory (valid inside this process while the context is open)."""
    text = str(path)
    if len(os.fsencode(text)) <= MAX_PATH:
        yield text
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def short_name(prefix: str, key: str, suffix: str) -> str:
    """``prefix + key + suffix``, with ``key`` replaced by a digest when the name would be too
    long for :func:`unix_address` to help (file names are not shortened by a descriptor)."""
    name = f"{prefix}{key}{suffix}"
    if len(os.fsencode(name)) <= MAX_NAME:
        return name
    return f"{prefix}{sha256_hex(key)[:24]}{suffix}"
