"""Subordinate id ranges (``/etc/subuid``, ``/etc/subgid``) and the set-uid helpers that map them.

A missing range or helper is a one-time host set-up step: the error names the file and the line
to add (or the package to install), never a traceback.
"""
from __future__ import annotations

import pwd
import shutil
from dataclasses import dataclass
from pathlib import Path

from engine.errors import MissingPrivilege

SUBUID = Path("/etc/subuid")
SUBGID = Path("/etc/subgid")
SUGGESTED_START = 100000
SUGGESTED_COUNT = 65536


class RootlessSetupError(MissingPrivilege):
    """The host lacks a one-time set-up step rootless mode needs."""


@dataclass(frozen=True, slots=True)
class IdRange:
    """``count`` subordinate ids from ``start`` on the host."""

    start: int
    count: int


@dataclass(frozen=True, slots=True)
class Mapping:
    """What the user namespace maps: the user to root, the subordinate ranges above it."""

    uid: int
    gid: int
    uids: IdRange
    gids: IdRange


def parse(text: str, user: str, uid: int) -> IdRange | None:
    """The first ``user:start:count`` (or ``uid:start:count``) line of a subid file's text."""
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) != 3 or fields[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(fields[1]), int(fields[2])
        except ValueError:
            continue
        if count > 0 and start >= 0:
            return IdRange(start, count)
    return None


def read_range(path: Path, user: str, uid: int) -> IdRange:
    """The user's range in ``path``; RootlessSetupError naming the line to add if none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        text = ""
    except OSError as e:
        raise RootlessSetupError(f"cannot read {path}: {e.strerror}", step="rootless") from e
    found = parse(text, user, uid)
    if found is None:
        end = SUGGESTED_START + SUGGESTED_COUNT - 1
        flag = "--add-subuids" if path.name == "subuid" else "--add-subgids"
        raise RootlessSetupError(
            f"no subordinate id range for user {user!r} in {path}: add a line such as "
            f"'{user}:{SUGGESTED_START}:{SUGGESTED_COUNT}' (as root: usermod {flag} "
            f"{SUGGESTED_START}-{end} {user}), choosing a range no other user has",
            step="rootless")
    return found


def user_name(uid: int) -> str:
    """The login name of ``uid`` (its number when it has none)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def mapping(uid: int, gid: int, subuid: Path = SUBUID, subgid: Path = SUBGID) -> Mapping:
    """The user's full mapping, or RootlessSetupError naming what to set up."""
    name = user_name(uid)
    return Mapping(uid, gid, read_range(subuid, name, uid), read_range(subgid, name, uid))


def helper(name: str) -> str:
    """Path of ``newuidmap``/``newgidmap``; RootlessSetupError naming the package if missing."""
    found = shutil.which(name) or next((p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}")
                                        if Path(p).exists()), None)
    if found is None:
        raise RootlessSetupError(f"{name} not found: install the uidmap package "
                                 "(apt-get install uidmap)", step="rootless")
    return found


def map_args(pid: int, own: int, sub: IdRange) -> list[str]:
    """Arguments after the helper's name: the user as root, then the subordinate range."""
    return [str(pid), "0", str(own), "1", "1", str(sub.start), str(sub.count)]
