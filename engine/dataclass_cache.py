"""Compile a dataclass's generated methods once, not in every process.

``@dataclass`` writes the source of ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and, for
frozen classes, ``__setattr__``/``__delattr__``, and compiles each with ``exec``: about 1 ms per
frozen slotted class (more for wide ones like ``Service``), 40-45 % of the CPU time of
``pycompose ps`` or ``config``, and paid again by every helper interpreter (supervisor, DNS
daemon, shim fork server). The generated source depends only on the class's declaration, so
:func:`install` keeps the compiled code objects, keyed by that source, in one marshal file in
this package's ``__pycache__`` (the same trust and the same rules as the ``.pyc`` files beside
it: not written when ``sys.dont_write_bytecode`` is set; ``python -m engine.dataclass_cache``
fills it explicitly). Only compilation is cached: the functions are built exactly as
``dataclasses`` builds them (same globals, same closure values), so behaviour is unchanged.
Active only on the interpreter versions whose ``dataclasses._create_fn`` this mirrors.
"""
from __future__ import annotations

import atexit
import marshal
import os
import sys
from typing import Any

from engine.lazy import import_sparing

# ``inspect`` serves the docstring of a class without one, ``copy`` ``asdict`` of nested
# values; importing them cost every interpreter ~5 ms (``inspect`` loads ``ast``, ``dis``,
# ``tokenize`` ...).
dataclasses = import_sparing("dataclasses", ("inspect", "copy"))

try:  # hashlib would load OpenSSL (~3 ms) for the same function
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b

_SUPPORTED = ((3, 11), (3, 12))  # 3.13 builds all methods in one exec (_FuncBuilder)
_MAX_ENTRIES = 8192
_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__pycache__",
                     f"dataclass-methods.{sys.implementation.cache_tag}.marshal")

# A 128-bit digest of the generated text -> the marshalled code object, unmarshalled when
# used: reading all 1000 digests and blobs takes ~1 ms, unmarshalling all the code ~20 ms.
_codes: dict[bytes, bytes] = {}
_added: dict[bytes, bytes] = {}
_used: set[bytes] = set()


def install() -> bool:
    """Route ``dataclasses``' method compilation through the cache (idempotent); False when
    this interpreter's ``dataclasses`` is not the one mirrored here."""
    original = getattr(dataclasses, "_create_fn", None)
    if original is _create_fn:
        return True
    if sys.version_info[:2] not in _SUPPORTED or original is None or (
            original.__code__.co_varnames[:6]
            != ("name", "args", "body", "globals", "locals", "return_type")):
        return False
    _codes.update(_load(_PATH))
    dataclasses._create_fn = _create_fn  # type: ignore[attr-defined]
    atexit.register(_save_at_exit)
    return True


def _create_fn(name: str, args: list[str], body: list[str], *,
               globals: dict[str, Any] | None = None, locals: dict[str, Any] | None = None,
               return_type: Any = dataclasses.MISSING) -> Any:
    """``dataclasses._create_fn`` (3.11/3.12), with the compiled text looked up first."""
    if locals is None:
        locals = {}
    return_annotation = ""
    if return_type is not dataclasses.MISSING:
        locals["_return_type"] = return_type
        return_annotation = "->_return_type"
    body_text = "\n".join(f"  {b}" for b in body)
    txt = f" def {name}({','.join(args)}){return_annotation}:\n{body_text}"
    txt = f"def __create_fn__({', '.join(locals.keys())}):\n{txt}\n return {name}"
    key = blake2b(txt.encode(), digest_size=16).digest()
    blob = _codes.get(key)
    if blob is None:
        # dont_inherit: compiled as dataclasses would, without this module's __future__ flags
        code = compile(txt, "<string>", "exec", dont_inherit=True)
        _codes[key] = _added[key] = marshal.dumps(code)
    else:
        code = marshal.loads(blob)
    _used.add(key)
    ns: dict[str, Any] = {}
    exec(code, globals, ns)
    return ns["__create_fn__"](**locals)


def _load(path: str) -> dict[bytes, bytes]:
    try:
        with open(path, "rb") as f:
            data = marshal.load(f)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, bytes) and isinstance(v, bytes)}


def _save_at_exit() -> None:
    flush()


def flush() -> None:
    """Write what this process compiled anew, if anything (and bytecode may be written)."""
    if _added and not sys.dont_write_bytecode:
        save()


def save(path: str | None = None) -> None:
    """Write what is known (the file's entries, this process's new ones) atomically; a
    read-only location is left alone."""
    path = path or _PATH
    merged = {**_load(path), **_codes}
    if len(merged) > _MAX_ENTRIES:  # stale declarations pile up: keep what this run used
        merged = {k: v for k, v in merged.items() if k in _used or k in _added}
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "wb") as f:
            marshal.dump(merged, f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    _added.clear()


def warm() -> int:
    """Import every module of ``compose`` and ``engine`` with the cache installed and save
    it; the number of cached methods."""
    import importlib
    import pkgutil

    if not install():
        return 0
    for top in ("engine", "compose"):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # an optional dependency missing: its classes stay uncached
                continue
    save()
    return len(_codes)


if __name__ == "__main__":
    print(f"dataclass cache: {warm()} methods in {_PATH}")
