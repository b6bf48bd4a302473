"""The cgroup v2 device program: generated instructions run in a small eBPF interpreter."""
from __future__ import annotations

import struct
from typing import Any

import pytest

from engine.cgroups import devicefilter as df
from engine.containers.bundle import device_rules
from engine.errors import EngineError

M, R, W = df.ACC_MKNOD, df.ACC_READ, df.ACC_WRITE
B, C = df.DEV_BLOCK, df.DEV_CHAR
U32 = 0xFFFFFFFF


def run(prog: list[df.Insn], kind: int, major: int, minor: int, access: int) -> int:
    """Interpret the subset of eBPF the generator emits, as the kernel would run it."""
    ctx = struct.pack("<III", (access << 16) | kind, major, minor)
    regs = [0] * 11
    regs[1] = -1  # a pointer: only valid as the base of a context load
    pc = steps = 0
    while True:
        steps += 1
        assert steps < 10_000 and 0 <= pc < len(prog), "ran off the program"
        i = prog[pc]
        pc += 1
        if i.code == df.LDX_MEM_W:
            assert regs[i.src] == -1 and i.off in (0, 4, 8), "load outside bpf_cgroup_dev_ctx"
            regs[i.dst] = struct.unpack_from("<I", ctx, i.off)[0]
        elif i.code == df.ALU32_AND_K:
            regs[i.dst] = (regs[i.dst] & i.imm) & U32
        elif i.code == df.ALU32_RSH_K:
            regs[i.dst] = (regs[i.dst] & U32) >> i.imm
        elif i.code == df.ALU32_MOV_X:
            regs[i.dst] = regs[i.src] & U32
        elif i.code == df.ALU64_MOV_K:
            regs[i.dst] = i.imm
        elif i.code in (df.JMP_JEQ_K, df.JMP_JNE_K, df.JMP_JSET_K):
            v = regs[i.dst]
            taken = {df.JMP_JEQ_K: v == i.imm, df.JMP_JNE_K: v != i.imm,
                     df.JMP_JSET_K: bool(v & i.imm)}[i.code]
            assert i.off >= 0, "backward jump: the verifier refuses loops"
            pc += i.off if taken else 0
        elif i.code == df.JMP_EXIT:
            return regs[0]
        else:
            raise AssertionError(f"opcode {i.code:#x} not in the evaluated subset")


def allowed(rules: list[dict[str, Any]], kind: int, major: int, minor: int,
            access: int) -> bool:
    return run(df.compile_rules(rules), kind, major, minor, access) == 1


DOCKER = device_rules(False)

# (type, major, minor, access) -> allowed under docker's default list
DEFAULT_TABLE = [
    ((C, 1, 3, R | W), True),      # /dev/null
    ((C, 1, 5, R), True),          # /dev/zero
    ((C, 1, 7, W), True),          # /dev/full
    ((C, 1, 8, R), True),          # /dev/random
    ((C, 1, 9, R), True),          # /dev/urandom
    ((C, 5, 0, R | W), True),      # /dev/tty
    ((C, 5, 1, R | W), True),      # /dev/console
    ((C, 5, 2, R | W), True),      # /dev/ptmx
    ((C, 136, 7, R | W), True),    # /dev/pts/7
    ((C, 136, 0, M), True),
    ((B, 8, 0, M), True),          # mknod of anything is allowed ...
    ((B, 8, 0, R), False),         # ... but not opening a disk
    ((B, 8, 0, W), False),
    ((B, 254, 0, R | W), False),   # /dev/vda
    ((B, 7, 0, R), False),         # loop0
    ((C, 1, 1, R), False),         # /dev/mem
    ((C, 1, 4, R | W), False),     # /dev/port
    ((C, 1, 11, R), False),        # /dev/kmsg
    ((C, 1, 2, R), False),         # /dev/kmem
    ((C, 10, 229, R | W), False),  # /dev/fuse: docker's default list does not include it
    ((C, 4, 1, R | W), False),     # /dev/tty1 (host console)
    ((C, 1, 3, R | W | M), True),
    ((B, 1, 3, R), False),         # right numbers, wrong type
]


@pytest.mark.parametrize(("dev", "expected"), DEFAULT_TABLE)
def test_docker_default_list(dev: tuple[int, int, int, int], expected: bool) -> None:
    assert allowed(DOCKER, *dev) is expected


@pytest.mark.parametrize("dev", [d for d, _ in DEFAULT_TABLE])
def test_privileged_allows_everything(dev: tuple[int, int, int, int]) -> None:
    assert allowed(device_rules(True), *dev)


def test_no_rules_and_deny_all_deny() -> None:
    assert not allowed([], C, 1, 3, R)
    assert not allowed([{"allow": False, "access": "rwm"}], C, 1, 3, R)


def test_last_matching_rule_wins() -> None:
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "b", "major": 8, "access": "rwm"},
             {"allow": False, "type": "b", "major": 8, "minor": 1, "access": "w"}]
    assert allowed(rules, B, 8, 0, R | W)
    assert allowed(rules, B, 8, 1, R)
    assert not allowed(rules, B, 8, 1, W)
    assert not allowed(rules, B, 8, 1, R | W)  # a partial deny still covers its own access
    assert not allowed(rules, B, 9, 0, R)
    # later allow after the deny: wins again
    assert allowed([*rules, {"allow": True, "type": "b", "major": 8, "minor": 1,
                             "access": "rw"}], B, 8, 1, W)


def test_allow_needs_every_requested_access() -> None:
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 4, "minor": 64, "access": "r"}]
    assert allowed(rules, C, 4, 64, R)
    assert not allowed(rules, C, 4, 64, R | W)
    assert not allowed(rules, C, 4, 64, M)


def test_allow_all_resets_earlier_rules() -> None:
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
             {"allow": True, "access": "rwm"},
             {"allow": False, "type": "b", "access": "rwm"}]
    policy = df.normalize(rules)
    assert policy.default_allow and len(policy.rules) == 1
    assert allowed(rules, C, 1, 11, R)
    assert not allowed(rules, B, 8, 0, R)


def test_type_a_with_numbers_matches_both_kinds() -> None:
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "a", "major": 10, "minor": 200, "access": "rw"}]
    assert allowed(rules, C, 10, 200, R) and allowed(rules, B, 10, 200, W)
    assert not allowed(rules, C, 10, 201, R)


def test_program_shape_and_encoding() -> None:
    prog = df.compile_rules(DOCKER)
    raw = df.assemble(prog)
    assert len(raw) == 8 * len(prog)
    assert raw[:8] == struct.pack("<BBhi", 0x61, (1 << 4) | 2, 0, 0)  # r2 = *(u32 *)(r1 + 0)
    assert prog[-1].code == df.JMP_EXIT and prog[-2] == df.Insn(df.ALU64_MOV_K, 0, imm=0)
    assert len(prog) < 100  # docker's list stays a tiny program


@pytest.mark.parametrize("bad", [{"allow": True, "type": "x"}, {"allow": True, "access": "rx"},
                                 {"allow": True, "type": "c", "major": -5},
                                 {"allow": True, "type": "c", "major": "8"}])
def test_bad_rules_are_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(EngineError):
        df.compile_rules([bad])
