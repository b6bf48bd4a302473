"""The compiled seccomp program (libseccomp's binary-tree layout) decides every syscall exactly
as the plain linear layout of the same profile: both are run here on a small classic-BPF
interpreter over every syscall number, each architecture the profile names and argument
values that the profile's conditions look at."""
from __future__ import annotations

import struct
import tempfile

import pyseccomp

from engine.containers.security import DEFAULT_CAPS, seccomp_profile
from engine.runtime import seccomp

AUDIT_ARCH = {"x86_64": 0xC000003E, "x86": 0x40000003, "x32": 0xC000003E}
X32_BIT = 0x40000000


def _linear(profile: dict) -> bytes:  # type: ignore[type-arg]
    flt = seccomp.build_filter(profile, set_nnp=False)
    with tempfile.TemporaryFile() as f:
        flt.export_bpf(f)
        f.seek(0)
        return f.read()


def _run(program: bytes, nr: int, arch: int, args: tuple[int, ...]) -> int:
    """The action ``program`` returns for this ``seccomp_data``."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *args)
    insns = [struct.unpack_from("<HBBI", program, off) for off in range(0, len(program), 8)]
    a = x = 0
    mem = [0] * 16
    pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        if code == 0x20:  # ld [k]
            a = struct.unpack_from("<I", data, k)[0]
        elif code == 0x00:  # ld #k
            a = k
        elif code == 0x60:  # ld M[k]
            a = mem[k]
        elif code == 0x61:  # ldx M[k]
            x = mem[k]
        elif code == 0x02:  # st M[k]
            mem[k] = a
        elif code == 0x03:  # stx M[k]
            mem[k] = x
        elif code == 0x54:  # and #k
            a &= k
        elif code == 0x07:  # tax
            x = a
        elif code == 0x87:  # txa
            a = x
        elif code == 0x05:  # ja
            pc += k
        elif code in (0x15, 0x25, 0x35, 0x45):  # jeq, jgt, jge, jset #k
            hit = {0x15: a == k, 0x25: a > k, 0x35: a >= k, 0x45: bool(a & k)}[code]
            pc += jt if hit else jf
        elif code == 0x06:  # ret #k
            return k
        elif code == 0x16:  # ret a
            return a
        else:
            raise AssertionError(f"opcode {code:#x} at {pc - 1} not interpreted")


def test_the_tree_layout_decides_every_syscall_as_the_linear_one() -> None:
    profile = seccomp_profile(list(DEFAULT_CAPS))
    seccomp._CACHE.clear()
    tree = seccomp.compile_bpf(profile)
    linear = _linear(profile)
    assert tree != linear  # the optimised layout really is in use
    arg_values = sorted({int(a.get("value", 0)) for rule in profile["syscalls"]
                         for a in rule.get("args") or ()} | {0, 1, 0xFFFFFFFF})
    checked = 0
    for arch_name in [a.removeprefix("SCMP_ARCH_").lower()
                      for a in profile.get("architectures") or ["SCMP_ARCH_X86_64"]]:
        audit = AUDIT_ARCH.get(arch_name)
        if audit is None:
            continue
        base = X32_BIT if arch_name == "x32" else 0
        for nr in range(base, base + 460):
            for value in arg_values:
                args = (value,) * 6
                assert _run(tree, nr, audit, args) == _run(linear, nr, audit, args), (
                    arch_name, nr, value)
                checked += 1
    assert checked > 460 * len(arg_values)
    # and the actions are the profile's: an allowed call, a refused one
    assert _run(tree, 39, AUDIT_ARCH["x86_64"], (0,) * 6) == pyseccomp.ALLOW  # getpid
    assert _run(tree, 250, AUDIT_ARCH["x86_64"], (0,) * 6) != pyseccomp.ALLOW  # keyctl


def test_an_unknown_architecture_is_not_allowed() -> None:
    tree = seccomp.compile_bpf(seccomp_profile(list(DEFAULT_CAPS)))
    assert _run(tree, 39, 0xDEADBEEF, (0,) * 6) != pyseccomp.ALLOW
