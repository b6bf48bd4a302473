"""Are we rootless, who is the user on the host, and where do per-user files go.

Cheap enough for every command: one ``geteuid`` and, as uid 0, one read of
``/proc/self/uid_map`` (cached).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

FULL_MAP = ["0", "0", "4294967295"]


@functools.cache
def _uid_map() -> list[list[str]]:
    try:
        text = Path("/proc/self/uid_map").read_text()
    except OSError:
        return [FULL_MAP]
    return [line.split() for line in text.splitlines() if line.strip()]


def in_user_namespace() -> bool:
    """True inside a user namespace that does not map the host's whole id space (ours)."""
    return _uid_map() != [FULL_MAP]


def rootless() -> bool:
    """True when the engine runs without real root: a non-root user, or inside our userns."""
    return os.geteuid() != 0 or in_user_namespace()


def host_uid() -> int:
    """The user's uid on the host (inside our user namespace: the id root maps to)."""
    if os.geteuid() != 0 or not in_user_namespace():
        return os.getuid()
    for fields in _uid_map():
        if len(fields) == 3 and fields[0] == "0":
            return int(fields[1])
    return os.getuid()


def data_home() -> Path:
    """``$XDG_DATA_HOME`` or ``~/.local/share``."""
    xdg = os.environ.get("XDG_DATA_HOME")
    return Path(xdg) if xdg else Path.home() / ".local" / "share"


def user_state_root() -> Path:
    """The rootless state root: ``$XDG_DATA_HOME/pycompose``."""
    return data_home() / "pycompose"


def runtime_dir() -> Path:
    """Per-user runtime files: ``$XDG_RUNTIME_DIR/pycompose`` or ``/tmp/pycompose-<uid>``."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "pycompose"
    return Path(f"/tmp/pycompose-{host_uid()}")


def namespace_dir(state_root: Path) -> Path:
    """The directory of the namespaces' processes for one state root (sockets, pid files)."""
    import hashlib  # only rootless commands get here (hashlib loads OpenSSL)

    digest = hashlib.sha256(str(state_root.resolve()).encode()).hexdigest()[:12]
    return runtime_dir() / f"ns-{digest}"


def reset() -> None:
    """Forget what was read about the user namespace (after joining one)."""
    _uid_map.cache_clear()
