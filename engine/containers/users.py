"""Resolve a container ``user`` (``uid[:gid]`` or names) against the image's /etc/passwd and
/etc/group, like docker: numeric ids need no entry, names must exist, and the supplementary
groups are the user's memberships in /etc/group plus ``group_add``."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError


@dataclass(frozen=True, slots=True)
class ResolvedUser:
    """Numeric identity of the container process."""

    uid: int
    gid: int
    additional_gids: tuple[int, ...] = ()
    home: str = "/"


def read_in_rootfs(rootfs: Path, path: str) -> str:
    """Read a file of the image without following symlinks out of the rootfs."""
    current = rootfs
    for part in Path(path.lstrip("/")).parts:
        candidate = current / part
        for _ in range(16):  # follow links, re-anchored at the rootfs
            if not candidate.is_symlink():
                break
            target = Path(candidate.readlink().as_posix())
            anchor = rootfs if target.is_absolute() else candidate.parent
            candidate = anchor / str(target).lstrip("/")
        current = candidate
    try:
        return current.read_text(errors="replace")
    except OSError:
        return ""


def _table(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(rootfs: Path, user: str, group_add: tuple[str, ...] = ()) -> ResolvedUser:
    """Return uid, gid, supplementary gids and home for ``user`` inside ``rootfs``."""
    passwd = _table(read_in_rootfs(rootfs, "/etc/passwd"))
    groups = _table(read_in_rootfs(rootfs, "/etc/group"))
    name, _, group = (user or "0").partition(":")
    uid, gid, home, username = _lookup_user(passwd, name, user)
    if group:
        gid = _lookup_group(groups, group, user)
    extra = [int(g[2]) for g in groups
             if len(g) > 3 and username and username in g[3].split(",") and g[2].isdigit()]
    extra += [_lookup_group(groups, g, g) for g in group_add]
    extra_gids = tuple(dict.fromkeys(g for g in extra if g != gid))
    return ResolvedUser(uid, gid, extra_gids, home)


def _lookup_user(passwd: list[list[str]], name: str, user: str) -> tuple[int, int, str, str]:
    for row in passwd:
        if len(row) >= 6 and (row[0] == name or (name.isdigit() and row[2] == name)):
            return int(row[2]), int(row[3]), row[5] or "/", row[0]
    if name.isdigit():
        return int(name), 0, "/", ""
    raise EngineError(f"unable to find user {name}: no matching entries in passwd file",
                      step="resolve user", obj=user)


def _lookup_group(groups: list[list[str]], group: str, user: str) -> int:
    for row in groups:
        if len(row) >= 3 and (row[0] == group or (group.isdigit() and row[2] == group)):
            return int(row[2])
    if group.isdigit():
        return int(group)
    raise EngineError(f"unable to find group {group}: no matching entries in group file",
                      step="resolve user", obj=user)
