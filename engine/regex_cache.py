"""Compile a regular expression once, not in every process.

``re`` parses and compiles a pattern in Python (``re._parser``, ``re._compiler``) before
``_sre`` builds the matcher from the resulting code: 34 patterns, ~3 ms, of a ``config`` run
in-process (PyYAML's resolvers, the compose file's syntax checks, the standard library's own),
paid again by every helper interpreter. The code depends only on the pattern, its flags and
the interpreter (its ``_sre``'s ``MAGIC``, its exact version), so :func:`install` keeps it,
keyed by pattern and flags, in one marshal file in this package's ``__pycache__`` (the rules
of :mod:`engine.dataclass_cache`: written at exit only when bytecode may be written;
``python -m engine.regex_cache`` does it explicitly). Only the parse and compile step is
cached: ``_sre.compile`` builds the pattern from the same arguments ``re`` would give it, and
``re``'s own per-process cache is untouched (the parser's warnings about a pattern, such as
"possible nested set", come when it is first compiled, not again). Active only on the
interpreter versions whose ``re._compiler.compile`` this mirrors.
"""
from __future__ import annotations

import _sre
import atexit
import marshal
import os
import re
import sys
from re import _compiler, _parser  # type: ignore[attr-defined]

_SUPPORTED = ((3, 11), (3, 12), (3, 13))
_MAX_ENTRIES = 4096
# The file's format (1), the code format (_sre's MAGIC) and the exact interpreter, so that a
# compiler fix in a patch release is never shadowed by code an older one made.
_MADE_FOR = (1, _sre.MAGIC, sys.hexversion)
_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__",
                     f"regex-code.{sys.implementation.cache_tag}.marshal")

# (is bytes, pattern, flags) -> marshal of _sre.compile's arguments after the pattern
# (unmarshalled when used): what the file had, and what this process compiled anew. (The type
# comes first: "a" and b"a" hash alike, and are never compared.)
_Key = tuple[bool, str | bytes, int]
_known: dict[_Key, bytes] = {}
_added: dict[_Key, bytes] = {}
_used: set[_Key] = set()
_original = _compiler.compile


def install() -> bool:
    """Route ``re``'s compilation of string patterns through the cache (idempotent); False
    when this interpreter's ``re`` is not the one mirrored here."""
    if _compiler.compile is _compile:
        return True
    if sys.version_info[:2] not in _SUPPORTED or (
            _compiler.compile.__code__.co_varnames[:2] != ("p", "flags")):
        return False
    _known.update(_load(_PATH))
    _compiler.compile = _compile
    atexit.register(flush)
    return True


def _compile(p: object, flags: int = 0) -> re.Pattern[str]:
    """``re._compiler.compile``, with the parse and compile of a string pattern looked up
    first."""
    if type(p) is str:  # (exactly: a subclass is not marshalled)
        key: _Key = (False, p, int(flags))
    elif type(p) is bytes:
        key = (True, p, int(flags))
    else:
        return _original(p, flags)  # type: ignore[no-any-return]
    if flags & _compiler.SRE_FLAG_DEBUG:
        return _original(p, flags)  # type: ignore[no-any-return]
    _used.add(key)
    blob = _added.get(key) or _known.get(key)
    if blob is None:
        parsed = _parser.parse(p, flags)
        code = _compiler._code(parsed, flags)  # type: ignore[attr-defined]
        groupindex = parsed.state.groupdict
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, i in groupindex.items():
            indexgroup[i] = name
        # (the opcodes are int subclasses, which marshal refuses)
        args = (int(flags | parsed.state.flags), [int(c) for c in code],
                parsed.state.groups - 1, dict(groupindex), tuple(indexgroup))
        _added[key] = marshal.dumps(args)
    else:
        args = marshal.loads(blob)
    final_flags, code_list, groups, groupindex, indexgroup_t = args
    return _sre.compile(p, final_flags, code_list, groups,  # type: ignore[no-any-return]
                        dict(groupindex), indexgroup_t)


def _load(path: str) -> dict[_Key, bytes]:
    """The entries of the cache file at ``path`` (none when it is missing, unreadable or made
    for another ``_sre``)."""
    try:
        with open(path, "rb") as f:
            made_for, entries = marshal.loads(f.read())  # (marshal.load(f) reads in pieces)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if made_for != _MADE_FOR or not isinstance(entries, dict):
        return {}
    return entries


def flush() -> None:
    """Write what this process compiled anew, if anything (and bytecode may be written)."""
    if _added and not sys.dont_write_bytecode:
        save()


def save(path: str | None = None) -> None:
    """Write what is known (the file's entries, this process's new ones) atomically; a
    read-only location is left alone."""
    from engine import cachefile

    path = path or _PATH
    merged = {**_load(path), **_known, **_added}
    if len(merged) > _MAX_ENTRIES:  # patterns of old code pile up: keep what this run used
        merged = {k: v for k, v in merged.items() if k in _used}
    cachefile.write(path, marshal.dumps((_MADE_FOR, merged)))
    _known.update(_added)
    _added.clear()


def warm() -> int:
    """Import every module of ``compose`` and ``engine`` with the cache installed (through
    :func:`engine.dataclass_cache.warm`, which fills its own cache too) and save it; the
    number of cached patterns. Patterns compiled on first use are cached by the runs that use
    them (tests/setup.sh runs a ``config``)."""
    install()
    from engine import dataclass_cache

    dataclass_cache.warm()
    save()
    return len(_known)


if __name__ == "__main__":
    from engine import regex_cache  # (the module itself, not this __main__ copy of it)

    print(f"regex cache: {regex_cache.warm()} patterns in {_PATH}")
