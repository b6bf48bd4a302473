"""Variable substitution and word splitting for Dockerfile instruction arguments.

Supports ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``,
``${VAR+alt}``; single quotes are literal, double quotes group words, the escape character
quotes the next character.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SubstitutionError(ValueError):
    """Malformed ``${...}`` expression."""


def _expand_braced(text: str, i: int, env: Mapping[str, str]) -> tuple[str, int]:
    end = text.find("}", i)
    if end < 0:
        raise SubstitutionError(f"missing '}}' in {text!r}")
    inner = text[i + 2:end]
    m = _NAME.match(inner)
    if not m:
        raise SubstitutionError(f"bad substitution ${{{inner}}}")
    name, rest = m.group(0), inner[m.end():]
    value = env.get(name)
    if not rest:
        return value or "", end + 1
    for op in (":-", ":+", "-", "+"):
        if rest.startswith(op):
            word = expand(rest[len(op):], env)
            if op == ":-":
                return (value if value else word), end + 1
            if op == "-":
                return (value if value is not None else word), end + 1
            if op == ":+":
                return (word if value else ""), end + 1
            return (word if value is not None else ""), end + 1
    raise SubstitutionError(f"unsupported modifier in ${{{inner}}}")


def _dollar(text: str, i: int, env: Mapping[str, str]) -> tuple[str, int]:
    if text.startswith("${", i):
        return _expand_braced(text, i, env)
    m = _NAME.match(text, i + 1)
    if not m:
        return "$", i + 1
    return env.get(m.group(0), ""), m.end()


def lex(text: str, env: Mapping[str, str], escape: str = "\\",
        split: bool = True) -> list[str]:
    """Split ``text`` into words with quotes removed and variables expanded."""
    words: list[str] = []
    cur: list[str] = []
    started = False
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                cur.append(c)
            i += 1
        elif c == escape and i + 1 < len(text):
            nxt = text[i + 1]
            if quote == '"' and nxt not in ('"', "$", escape):
                cur.append(c)  # inside double quotes only a few characters are escapable
            cur.append(nxt)
            started = True
            i += 2
        elif c == "$":
            value, i = _dollar(text, i, env)
            cur.append(value)
            started = True
        elif c in "'\"" and (not quote or quote == c):
            quote = "" if quote else c
            started = True
            i += 1
        elif c.isspace() and not quote and split:
            if started or cur:
                words.append("".join(cur))
            cur, started = [], False
            i += 1
        else:
            cur.append(c)
            started = True
            i += 1
    if quote:
        raise SubstitutionError(f"unterminated quote in {text!r}")
    if started or cur:
        words.append("".join(cur))
    return words


def expand(text: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables and remove quotes without splitting words."""
    words = lex(text, env, escape, split=False)
    return words[0] if words else ""


def split_pairs(text: str, env: Mapping[str, str], escape: str = "\\",
                legacy_ok: bool = True) -> list[tuple[str, str]]:
    """Parse ``k=v k2="v 2"`` (or the legacy ``KEY value words``) into pairs."""
    words = lex(text, env, escape)
    if not words:
        return []
    if "=" not in words[0]:
        if not legacy_ok:
            raise SubstitutionError(f"expected key=value in {text!r}")
        key, _, rest = text.strip().partition(" ")
        return [(key, expand(rest.strip(), env, escape))]
    pairs = []
    for w in words:
        key, sep, value = w.partition("=")
        if not sep or not key:
            raise SubstitutionError(f"expected key=value, got {w!r}")
        pairs.append((key, value))
    return pairs


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Expand variables only, keeping quotes and everything else (here-document bodies);
    ``\\$`` is a literal dollar."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("\\$", i):
            out.append("$")
            i += 2
        elif text[i] == "$":
            value, i = _dollar(text, i, env)
            out.append(value)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
