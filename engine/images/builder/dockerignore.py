"""``.dockerignore``: patterns with ``*``, ``?``, ``**`` and ``!`` exceptions; last match wins."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Rule:
    """One pattern of a ``.dockerignore`` file."""
    regex: re.Pattern[str]
    exclude: bool
    pattern: str


def _to_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i)
            if end < 0:
                out.append(re.escape(c))
            else:
                out.append(pattern[i:end + 1])
                i = end
        elif c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 1
        else:
            out.append(re.escape(c))
        i += 1
    # A pattern matching a directory also excludes everything below it.
    return re.compile("".join(out) + "(?:/.*)?")


def _clean(pattern: str) -> str:
    parts = [p for p in pattern.split("/") if p not in ("", ".")]
    return "/".join(parts)


def parse_rules(text: str) -> list[Rule]:
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pat = _clean(line.lstrip("!").strip())
        if pat:
            rules.append(Rule(_to_regex(pat), exclude, pat))
    return rules


class Matcher:
    """Decides whether a context-relative path is excluded from the build context."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.has_exceptions = any(not r.exclude for r in rules)

    @classmethod
    def for_context(cls, context: Path, dockerfile: Path | None = None) -> Matcher:
        """Rules of ``<Dockerfile>.dockerignore`` next to the Dockerfile when present (as
        BuildKit does), else of the context's ``.dockerignore``."""
        candidates = [dockerfile.with_name(dockerfile.name + ".dockerignore")] if dockerfile \
            else []
        for path in candidates + [context / ".dockerignore"]:
            if path.is_file():
                return cls(parse_rules(path.read_text()))
        return cls([])

    def excluded(self, rel: str) -> bool:
        verdict = False
        for rule in self.rules:
            if rule.regex.fullmatch(rel):
                verdict = rule.exclude
        return verdict

    def may_contain_included(self, rel_dir: str) -> bool:
        """Whether an excluded dir could still hold an excepted (``!``) path."""
        return self.has_exceptions and any(
            not r.exclude and (r.pattern.startswith(rel_dir + "/") or "*" in r.pattern)
            for r in self.rules)
