"""The ``bpf()`` system call for cgroup device programs: load, attach, query, detach.

Only what the cgroup v2 device controller needs (``engine/cgroups/devices.py``), reached through
the syscall seam (``LinuxSyscalls.bpf_*``) so the order of calls is unit-tested with the
recording fake. ``union bpf_attr`` is packed by hand (offsets from include/uapi/linux/bpf.h);
the kernel reads only the fields of the command and requires the rest to be zero.
"""
from __future__ import annotations

import ctypes
import os
import struct

from engine.runtime.syscalls import _libc

PROG_LOAD, PROG_ATTACH, PROG_DETACH, PROG_GET_FD_BY_ID, PROG_QUERY = 5, 8, 9, 13, 16
PROG_TYPE_CGROUP_DEVICE = 15
CGROUP_DEVICE = 6          # enum bpf_attach_type
F_ALLOW_MULTI = 2          # BPF_F_ALLOW_MULTI
_ATTR_SIZE = 128
_LOG_SIZE = 1 << 16
_MAX_PROGS = 64


def _nr() -> int:
    return 280 if os.uname().machine == "aarch64" else 321


def _call(cmd: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    rc = int(libc.syscall(ctypes.c_long(_nr()), ctypes.c_long(cmd),
                          ctypes.c_void_p(ctypes.addressof(attr)), ctypes.c_ulong(_ATTR_SIZE)))
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({what}): {os.strerror(err)}")
    return rc


def prog_load(insns: bytes, license: str, name: str) -> int:
    """Load a cgroup device program; return its fd. A verifier refusal carries the log."""
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode())
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIQQ", attr, 0, PROG_TYPE_CGROUP_DEVICE, len(insns) // 8,
                     ctypes.addressof(code), ctypes.addressof(lic))
    struct.pack_into("16s", attr, 48, name.encode()[:15])
    try:
        return _call(PROG_LOAD, attr, "prog load")
    except OSError as e:
        if e.errno != 13 and e.errno != 22:  # EACCES / EINVAL: the verifier has something to say
            raise
    log = ctypes.create_string_buffer(_LOG_SIZE)
    struct.pack_into("<IIQ", attr, 24, 1, _LOG_SIZE, ctypes.addressof(log))
    try:
        return _call(PROG_LOAD, attr, "prog load")
    except OSError as e:
        detail = log.value.decode(errors="replace")
        raise OSError(e.errno, f"{e.strerror}; verifier: {detail}") from e


def prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int) -> None:
    """Attach ``prog_fd`` to the cgroup open as ``target_fd``."""
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIII", attr, 0, target_fd, prog_fd, attach_type, flags)
    _call(PROG_ATTACH, attr, "prog attach")


def prog_detach(target_fd: int, prog_fd: int, attach_type: int) -> None:
    """Detach one program from the cgroup."""
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<III", attr, 0, target_fd, prog_fd, attach_type)
    _call(PROG_DETACH, attr, "prog detach")


def prog_query(target_fd: int, attach_type: int) -> list[int]:
    """Ids of the programs attached directly to the cgroup (not inherited ones)."""
    ids = (ctypes.c_uint32 * _MAX_PROGS)()
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIIIQI", attr, 0, target_fd, attach_type, 0, 0, ctypes.addressof(ids),
                     _MAX_PROGS)
    _call(PROG_QUERY, attr, "prog query")
    count = struct.unpack_from("<I", attr, 24)[0]
    return [int(ids[i]) for i in range(min(count, _MAX_PROGS))]


def prog_get_fd_by_id(prog_id: int) -> int:
    """An fd for the program with this id."""
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<I", attr, 0, prog_id)
    return _call(PROG_GET_FD_BY_ID, attr, "prog get fd by id")
