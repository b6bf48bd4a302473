"""Shared-library look-up without subprocesses, for importing python-iptables and pyseccomp.

``import iptc`` looks its libraries up through ``ctypes.util.find_library``, which on Linux
runs ``ldconfig -p`` for each name and, for a name ldconfig does not know (python-iptables'
own ``xtwrapper`` extension), ``gcc`` and ``ld`` as well; then ``ldconfig -N -v`` to find the
xtables extension directory: 18 processes, most of the ~90 ms the import costs. While
:func:`quick_find_library` is active, a look-up is a name match in the linker's standard
directories (each listed once), and ``XTABLES_LIBDIR`` points next to the ``libxtables``
found there.
"""
from __future__ import annotations

import ctypes.util
import functools
import os
import sysconfig
from collections.abc import Iterator
from contextlib import contextmanager


@functools.cache
def library_dirs() -> tuple[str, ...]:
    """The dynamic linker's default directories on this system (multiarch first)."""
    arch = sysconfig.get_config_var("MULTIARCH") or ""
    dirs = [f"/lib/{arch}", f"/usr/lib/{arch}"] if arch else []
    dirs += ["/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"]
    return tuple(d for d in dirs if os.path.isdir(d))


def find_library(name: str) -> str | None:
    """Like ``ctypes.util.find_library``: the soname (``libxtables.so.12``) of ``lib<name>``
    in a standard directory, or None."""
    for directory in library_dirs():
        found = _sonames(directory).get(f"lib{name}")
        if found:
            return min(found, key=len)
    return None


def xtables_dir() -> str | None:
    """The directory of the xtables extensions (``libxt_*.so``), next to libxtables."""
    for directory in library_dirs():
        candidate = os.path.join(directory, "xtables")
        if "libxtables" in _sonames(directory) and os.path.isdir(candidate):
            return candidate
    return None


@functools.cache
def _sonames(directory: str) -> dict[str, list[str]]:
    """``lib<name>`` -> the versioned names (``lib<name>.so.<version>``) in ``directory``,
    indexed once per process: python-iptables looks up ~33 names, and a scan of
    /usr/lib/<arch> (~1200 names) per look-up took ~0.1 ms each."""
    index: dict[str, list[str]] = {}
    for entry in _entries(directory):
        base, dot_so, _ = entry.partition(".so.")
        if dot_so:
            index.setdefault(base, []).append(entry)
    return index


@functools.cache
def _entries(directory: str) -> tuple[str, ...]:
    """A library directory's names, listed once per process (a glob per look-up read the
    whole of /usr/lib/<arch> each time: ~3 ms a name, ~30 ms for python-iptables)."""
    try:
        return tuple(os.listdir(directory))
    except OSError:
        return ()


@contextmanager
def quick_find_library() -> Iterator[None]:
    """Route ``ctypes.util.find_library`` through :func:`find_library` and set
    ``XTABLES_LIBDIR`` (unless set) for the duration of the block."""
    original = ctypes.util.find_library
    had_dir = "XTABLES_LIBDIR" in os.environ
    libdir = None if had_dir else xtables_dir()
    ctypes.util.find_library = find_library
    if libdir is not None:
        os.environ["XTABLES_LIBDIR"] = libdir
    try:
        yield
    finally:
        ctypes.util.find_library = original
        if libdir is not None:
            os.environ.pop("XTABLES_LIBDIR", None)
