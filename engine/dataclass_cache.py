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

from engine.lazy import import_sparing

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

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
                     f"dataclass-methods.{sys.implementation.cache_tag}.bin")
_KEY = 16  # bytes of digest


class _Codes:
    """The cache file's entries: a 128-bit digest of the generated text -> the marshalled
    code object, unmarshalled when used (unmarshalling all 1000 took ~20 ms). The file is
    read whole and its blobs are sliced on demand: building 1000 ``bytes`` objects and their
    dict took ~1 ms of every interpreter, reading the file and the digests' index ~0.2.

    File: 4 bytes (little-endian) the length N of the index; the index, ``marshal`` of (the
    digests one after the other, the offsets of the blobs as native unsigned ints, one more
    than there are digests); the blobs."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = memoryview(data)
        self.slot: dict[bytes, int] = {}
        self.offsets = memoryview(b"").cast("I")
        self.base = 0
        if len(data) < 4:
            return
        size = int.from_bytes(data[:4], "little")
        keys, offsets = marshal.loads(self.data[4:4 + size])
        if not isinstance(keys, bytes) or not isinstance(offsets, bytes):
            raise ValueError("not a cache index")
        self.offsets = memoryview(offsets).cast("I")
        if len(keys) % _KEY or len(self.offsets) != len(keys) // _KEY + 1:
            raise ValueError("a cache index of another shape")
        self.slot = {keys[i:i + _KEY]: i // _KEY for i in range(0, len(keys), _KEY)}
        self.base = 4 + size
        if self.base + self.offsets[-1] > len(data):
            raise ValueError("a truncated cache file")

    def __len__(self) -> int:
        return len(self.slot)

    def get(self, key: bytes) -> memoryview | None:
        i = self.slot.get(key)
        if i is None:
            return None
        return self.data[self.base + self.offsets[i]:self.base + self.offsets[i + 1]]

    def items(self) -> dict[bytes, bytes]:
        return {key: bytes(self.data[self.base + self.offsets[i]:self.base + self.offsets[i + 1]])
                for key, i in self.slot.items()}


def _encode(entries: dict[bytes, bytes]) -> bytes:
    """The cache file holding ``entries`` (see :class:`_Codes`)."""
    import array

    keys = sorted(entries)
    offsets = array.array("I", [0])  # (the same native unsigned int as memoryview's "I")
    for key in keys:
        offsets.append(offsets[-1] + len(entries[key]))
    index = marshal.dumps((b"".join(keys), offsets.tobytes()))
    return len(index).to_bytes(4, "little") + index + b"".join(entries[k] for k in keys)


_codes = _Codes()  # what the file had when this process installed the cache
_added: dict[bytes, bytes] = {}  # compiled by this process
_unsaved: set[bytes] = set()  # of those, not written yet
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
    global _codes
    _codes = _load(_PATH)
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
    key = blake2b(txt.encode(), digest_size=_KEY).digest()
    blob = _added.get(key) or _codes.get(key)
    if blob is None:
        # dont_inherit: compiled as dataclasses would, without this module's __future__ flags
        code = compile(txt, "<string>", "exec", dont_inherit=True)
        _added[key] = marshal.dumps(code)
        _unsaved.add(key)
    else:
        code = marshal.loads(blob)
    _used.add(key)
    ns: dict[str, Any] = {}
    exec(code, globals, ns)
    return ns["__create_fn__"](**locals)


def _load(path: str) -> _Codes:
    """The entries of the cache file at ``path`` (none when it is missing or unreadable)."""
    try:
        with open(path, "rb") as f:
            return _Codes(f.read())
    except (OSError, EOFError, ValueError, TypeError):
        return _Codes()


def _save_at_exit() -> None:
    flush()


def flush() -> None:
    """Write what this process compiled anew, if anything (and bytecode may be written)."""
    if _unsaved and not sys.dont_write_bytecode:
        save()


def save(path: str | None = None) -> None:
    """Write what is known (the file's entries, this process's new ones) atomically; a
    read-only location is left alone."""
    from engine import cachefile

    path = path or _PATH
    merged = {**_load(path).items(), **_codes.items(), **_added}
    if len(merged) > _MAX_ENTRIES:  # stale declarations pile up: keep what this run used
        merged = {k: v for k, v in merged.items() if k in _used or k in _added}
    cachefile.write(path, _encode(merged))
    _unsaved.clear()


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
    return len(_load(_PATH))


if __name__ == "__main__":
    print(f"dataclass cache: {warm()} methods in {_PATH}")
