"""OCI ``linux.seccomp`` JSON -> a libseccomp filter (pyseccomp).

Imported eagerly: the container init cannot import anything after pivot_root.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from engine.digest import sha256_hex
from engine.errors import EngineError
from engine.libfind import quick_find_library
from engine.paths import ensure_dir

with quick_find_library():  # pyseccomp looks up libc and libseccomp: no ldconfig runs
    import pyseccomp as sc

log = logging.getLogger(__name__)

_OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
        "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


def action(name: str, errno_ret: int | None = None) -> int:
    """Translate an OCI seccomp action name into a libseccomp action value."""
    simple = {"SCMP_ACT_KILL": sc.KILL, "SCMP_ACT_KILL_THREAD": sc.KILL_THREAD,
              "SCMP_ACT_KILL_PROCESS": sc.KILL_PROCESS, "SCMP_ACT_TRAP": sc.TRAP,
              "SCMP_ACT_ALLOW": sc.ALLOW, "SCMP_ACT_LOG": sc.LOG}
    if name in simple:
        return simple[name]
    if name == "SCMP_ACT_ERRNO":
        return sc.ERRNO(errno.EPERM if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_TRACE":
        return sc.TRACE(errno.EPERM if errno_ret is None else errno_ret)
    raise EngineError(f"unsupported seccomp action {name!r}", step="seccomp", obj=name)


def arch(name: str) -> int:
    """Translate ``SCMP_ARCH_X86_64``-style names into libseccomp architecture tokens."""
    attr = name.removeprefix("SCMP_ARCH_")
    if not hasattr(sc.Arch, attr):
        raise EngineError(f"unknown seccomp architecture {name!r}", step="seccomp", obj=name)
    return int(getattr(sc.Arch, attr))


def build_filter(profile: dict[str, Any], *, set_nnp: bool) -> Any:
    """Build (not load) a pyseccomp SyscallFilter from an OCI seccomp object.

    ``set_nnp`` False leaves no_new_privs to the runtime (the filter is then loaded while the
    process still has CAP_SYS_ADMIN, like docker without ``no-new-privileges``).
    """
    default = action(profile.get("defaultAction", "SCMP_ACT_ALLOW"),
                     profile.get("defaultErrnoRet"))
    flt = sc.SyscallFilter(default)
    flt.set_attr(sc.Attr.CTL_NNP, 1 if set_nnp else 0)
    for name in profile.get("architectures") or ():
        token = arch(name)
        if token != sc.system_arch() and not flt.exist_arch(token):
            flt.add_arch(token)
    for rule in profile.get("syscalls") or ():
        act = action(rule["action"], rule.get("errnoRet"))
        if act == default:
            continue  # libseccomp rejects rules equal to the default action
        args = [sc.Arg(a["index"], _OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0))
                for a in rule.get("args") or ()]
        for name in rule.get("names") or ([rule["name"]] if "name" in rule else []):
            _add_rule(flt, act, name, args)
    return flt


def _add_rule(flt: Any, act: int, name: str, args: list[Any]) -> None:
    try:
        flt.add_rule(act, name, *args)
    except (OSError, ValueError) as e:
        # Profiles list syscalls newer or older than this kernel/libseccomp; skip those.
        log.debug("seccomp: skipping %s: %s", name, e)


_CACHE: dict[str, bytes] = {}
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def compile_bpf(profile: dict[str, Any], cache_dir: Path | None = None) -> bytes:
    """The profile's BPF program (cached per profile in the process, and in ``cache_dir``
    when given: every container start runs in a new shim, and compiling the default profile
    costs ~11 ms of it). The runtime compiles it in the parent, before forking, so a bad
    profile is a clean error and the init only has to load it."""
    key = json.dumps(profile, sort_keys=True)
    data = _CACHE.get(key)
    if data is None:
        path = None if cache_dir is None else cache_dir / _cache_name(key)
        data = None if path is None else _read_cached(path)
        if data is None:
            data = _compile(profile)
            if path is not None:
                _store(path, data)
        if len(_CACHE) >= 16:
            _CACHE.clear()
        _CACHE[key] = data
    return data


# libseccomp's binary-tree layout (SCMP_FLTATR_CTL_OPTIMIZE 2): a longer program than the
# default linear one (1237 against 991 instructions for docker's default profile) but a
# syscall takes a few comparisons instead of scanning the list, and so does the kernel's
# action-cache pass over every syscall number when the filter is attached: loading it took
# about 0.8 ms instead of 1.4-1.9 ms per container here.
_OPTIMIZE = 2


def _compile(profile: dict[str, Any]) -> bytes:
    flt = build_filter(profile, set_nnp=False)
    flt.set_attr(sc.Attr.CTL_OPTIMIZE, _OPTIMIZE)
    with tempfile.TemporaryFile() as f:
        flt.export_bpf(f)
        f.seek(0)
        return f.read()


def _cache_name(key: str) -> str:
    """The file the program of ``key`` is kept in: a digest of the profile, the machine and
    the libseccomp library file (a new libseccomp may compile differently)."""
    lib = _library_file()
    try:
        st = os.stat(lib)
        lib += f":{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        pass
    digest = sha256_hex("\0".join((key, lib, os.uname().machine, f"optimize={_OPTIMIZE}")))
    return f"{digest[:40]}.bpf"


@functools.cache
def _library_file() -> str:
    """The libseccomp file this process has loaded (from its memory map)."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "libseccomp" in line:
                    return line.split(maxsplit=5)[-1].strip()
    except OSError:
        pass
    return str(getattr(sc, "_libseccomp_path", ""))


def _read_cached(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if data and len(data) % 8 == 0 else None  # whole sock_filter instructions


def _store(path: Path, data: bytes) -> None:
    """Write atomically (a rename: a concurrent reader sees all of it or nothing); a
    read-only state root only loses the cache."""
    try:
        ensure_dir(path.parent, 0o700)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("seccomp cache %s: %s", path, exc)


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def load_bpf(data: bytes, libc: ctypes.CDLL) -> None:
    """Install a compiled filter on the calling thread (needs no_new_privs or CAP_SYS_ADMIN)."""
    buf = ctypes.create_string_buffer(data, len(data))
    prog = _Fprog(len(data) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {os.strerror(err)}")
