"""``develop.watch`` as pure functions: which rule a changed path triggers, and the plan of one
debounced batch of changes (files to copy or delete in a service's containers, restart, exec,
rebuild). The CLI's watch runner applies the plan; nothing here touches the engine.

Matching follows docker compose: a change triggers a rule when it is ``path`` or under it, is
not ignored (the rule's ``ignore`` patterns, .dockerignore syntax relative to ``path``, and
editors' temporary files), and, when ``include`` is set, matches one of those patterns.
"""
from __future__ import annotations

import functools
import io
import os
import posixpath
import re
import tarfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from compose.config.develop import WatchExec, WatchRule

# Editors' swap/backup files (vim, emacs, JetBrains, kate, go tooling), never synced.
EPHEMERAL = ("**/4913", "**/*~", "**/.*.swp", "**/.*.swx", "**/.*.swo", "**/.*.swn",
             "**/.#*", "**/#*#", "**/*___jb_old___", "**/*___jb_tmp___", "**/.idea/**",
             "**/.*.kate-swp", "**/*-go-tmp-umask")
SYNC_ACTIONS = ("sync", "sync+restart", "sync+exec")


@dataclass(frozen=True, slots=True)
class Change:
    """One changed host path (``deleted``: it no longer exists)."""

    path: str
    deleted: bool = False


@dataclass(slots=True)
class ServicePlan:
    """What one batch does to one service, in docker's order: sync, then exec or restart;
    a rebuild replaces all of it."""

    copy: dict[str, str] = field(default_factory=dict)  # container path -> host path
    delete: set[str] = field(default_factory=set)  # container paths
    execs: list[WatchExec] = field(default_factory=list)
    restart: bool = False
    rebuild: bool = False
    changes: int = 0


@functools.lru_cache(maxsize=512)
def _pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression over a relative path (a match on a
    directory also covers everything under it)."""
    text = pattern.strip().lstrip("/")
    text = posixpath.normpath(text) if text else text
    out, i = [], 0
    while i < len(text):
        if text.startswith("**", i):
            out.append(".*")
            i += 2
            if text.startswith("/", i):
                out[-1] = "(?:.*/)?"
                i += 1
            continue
        ch = text[i]
        out.append("[^/]*" if ch == "*" else "[^/]" if ch == "?" else re.escape(ch))
        i += 1
    return re.compile("".join(out) + "(?:/.*)?$")


def ignored(rel: str, patterns: Iterable[str]) -> bool:
    """.dockerignore semantics: the last matching pattern wins; ``!`` re-includes."""
    result = False
    for p in patterns:
        negate = p.startswith("!")
        body = p[1:] if negate else p
        if body.strip() and _pattern(body).match(rel):
            result = not negate
    return result


def rel_path(rule: WatchRule, path: str) -> str | None:
    """``path`` relative to the rule's watched path ("" for the path itself), or None."""
    root = rule.path.rstrip("/") or "/"
    if path == root:
        return ""
    if path.startswith(root + "/") or root == "/":
        return path[len(root):].lstrip("/")
    return None


@dataclass(frozen=True, slots=True)
class ContextIgnore:
    """A service's build-context .dockerignore, which docker applies to its watch rules."""

    root: str
    patterns: tuple[str, ...] = ()


def read_dockerignore(context: str, dockerfile: str | None) -> ContextIgnore:
    """``<Dockerfile>.dockerignore`` or ``.dockerignore`` of a build context (docker's
    order); no file, no patterns."""
    names = [f"{dockerfile}.dockerignore"] if dockerfile else []
    for name in [*names, ".dockerignore"]:
        try:
            with open(os.path.join(context, name), encoding="utf-8") as f:
                lines = [ln.strip() for ln in f]
        except (FileNotFoundError, NotADirectoryError):
            continue
        return ContextIgnore(context, tuple(ln for ln in lines
                                            if ln and not ln.startswith("#")))
    return ContextIgnore(context)


def triggers(rule: WatchRule, path: str, context: ContextIgnore | None = None) -> bool:
    """Does a change of ``path`` trigger ``rule``? Never for a ``.git`` directory, editors'
    temporary files or what the build context's .dockerignore excludes."""
    rel = rel_path(rule, path)
    if rel is None or ".git" in path.split("/"):
        return False
    name = rel or posixpath.basename(path)
    if ignored(name, EPHEMERAL) or ignored(name, rule.ignore):
        return False
    if context is not None and context.patterns:
        root = context.root.rstrip("/")
        if path.startswith(root + "/") and ignored(path[len(root) + 1:], context.patterns):
            return False
    return not rule.include or ignored(name, rule.include)


def container_path(rule: WatchRule, path: str) -> str:
    """Where a synced host path lands: ``target`` + its path relative to the rule's."""
    rel = rel_path(rule, path) or ""
    target = rule.target or "/"
    return posixpath.join(target, rel) if rel else target


def plan_batch(rules: Mapping[str, tuple[WatchRule, ...]], changes: Iterable[Change],
               contexts: Mapping[str, ContextIgnore] | None = None) -> dict[str, ServicePlan]:
    """The actions one batch of changes asks of each service (``contexts``: the services'
    build-context ignores)."""
    plans: dict[str, ServicePlan] = {}
    batch = list(changes)
    for service, service_rules in rules.items():
        context = (contexts or {}).get(service)
        for rule in service_rules:
            hits = [c for c in batch if triggers(rule, c.path, context)]
            if not hits:
                continue
            plan = plans.setdefault(service, ServicePlan())
            plan.changes += len(hits)
            _apply(plan, rule, hits)
    return plans


def _apply(plan: ServicePlan, rule: WatchRule, hits: list[Change]) -> None:
    if rule.action == "rebuild":
        plan.rebuild = True
        return
    if rule.action in SYNC_ACTIONS:
        for c in hits:
            dest = container_path(rule, c.path)
            if c.deleted:
                plan.delete.add(dest)
                plan.copy.pop(dest, None)
            else:
                plan.copy[dest] = c.path
                plan.delete.discard(dest)
    if rule.action in ("sync+restart", "restart"):
        plan.restart = True
    if rule.action == "sync+exec" and rule.exec is not None and rule.exec not in plan.execs:
        plan.execs.append(rule.exec)


def initial_changes(rule: WatchRule) -> list[Change]:
    """Every file under the rule's path, for ``initial_sync``."""
    if os.path.isfile(rule.path):
        return [Change(rule.path)]
    out: list[Change] = []
    for root, _dirs, files in os.walk(rule.path):
        out.extend(Change(os.path.join(root, f)) for f in files)
    return out


def sync_archive(copy: Mapping[str, str], *, owner: tuple[int, int] | None = (0, 0)) -> bytes:
    """A tar of the files to copy, named by their container path (extract at ``/``).
    A host directory is added with its content. Owners are root, like docker's copy into
    a container, unless ``owner`` is None (keep the host's)."""
    buf = io.BytesIO()

    def chown(info: tarfile.TarInfo) -> tarfile.TarInfo:
        if owner is not None:
            info.uid, info.gid = owner
            info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dest, src in sorted(copy.items()):
            if os.path.lexists(src):
                tar.add(src, arcname=dest.lstrip("/") or ".", filter=chown)
    return buf.getvalue()
