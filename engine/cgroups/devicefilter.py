"""OCI device rules → a ``BPF_PROG_TYPE_CGROUP_DEVICE`` program (cgroup v2 device control).

cgroup v2 has no devices files: the kernel asks an eBPF program attached to the cgroup, with a
``struct bpf_cgroup_dev_ctx`` (``access_type`` = access << 16 | type, ``major``, ``minor``),
whether an mknod/open may go ahead (r0 = 1) or not (r0 = 0).

Rules are first reduced the way the v1 device controller treats writes to ``devices.allow`` and
``devices.deny`` (:func:`normalize`): a rule for every device (type ``a``, no major/minor, all of
``rwm``) resets the list and sets the default; any other rule is an exception. The program then
tests the exceptions from the LAST one to the first and the first match decides; no match gives
the default. An allow rule matches only when it grants every access asked for; a deny rule
matches when it covers any of them (so a partial deny never lets its own access through).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from engine.errors import EngineError

# bpf_cgroup_dev_ctx: type and access values (include/uapi/linux/bpf.h)
DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
ACCESS_BITS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}
TYPES = {"b": DEV_BLOCK, "c": DEV_CHAR}

# Opcodes of the instruction subset the generator emits (and the test evaluator interprets).
LDX_MEM_W = 0x61     # dst = *(u32 *)(src + off)
ALU32_AND_K = 0x54   # dst = (u32)(dst & imm)
ALU32_RSH_K = 0x74   # dst = (u32)dst >> imm
ALU32_MOV_X = 0xBC   # dst = (u32)src
ALU64_MOV_K = 0xB7   # dst = imm
JMP_JEQ_K = 0x15     # if dst == imm: pc += off
JMP_JNE_K = 0x55     # if dst != imm: pc += off
JMP_JSET_K = 0x45    # if dst & imm: pc += off
JMP_EXIT = 0x95      # return r0

# Registers: r1 = ctx on entry (then scratch), r2 = type, r3 = access, r4 = major, r5 = minor.
R0, R1, R2, R3, R4, R5 = range(6)


@dataclass(frozen=True, slots=True)
class Insn:
    """One eBPF instruction (``struct bpf_insn``)."""

    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def pack(self) -> bytes:
        """The 8-byte kernel encoding."""
        return struct.pack("<BBhi", self.code, (self.src << 4) | self.dst, self.off, self.imm)


@dataclass(frozen=True, slots=True)
class DeviceRule:
    """One exception: type (None = any), major/minor (None = any), access bits, allow or deny."""

    allow: bool
    kind: int | None
    major: int | None
    minor: int | None
    access: int


@dataclass(frozen=True, slots=True)
class DevicePolicy:
    """The reduced rule set: a default and ordered exceptions (last one wins)."""

    default_allow: bool
    rules: tuple[DeviceRule, ...]


def parse_rule(rule: dict[str, Any]) -> DeviceRule:
    """Decode one OCI ``linux.resources.devices`` entry."""
    kind_name = rule.get("type") or "a"
    if kind_name not in ("a", "b", "c"):
        raise EngineError(f"device rule type {kind_name!r} is not a, b or c",
                          step="device rules", obj=str(rule))
    access_text = rule.get("access") or "rwm"
    if not access_text or set(access_text) - set(ACCESS_BITS):
        raise EngineError(f"device rule access {access_text!r} is not a subset of 'rwm'",
                          step="device rules", obj=str(rule))
    access = 0
    for ch in access_text:
        access |= ACCESS_BITS[ch]
    return DeviceRule(allow=bool(rule.get("allow")), kind=TYPES.get(kind_name),
                      major=_number(rule.get("major")), minor=_number(rule.get("minor")),
                      access=access)


def _number(value: Any) -> int | None:
    if value is None or value == -1:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value > 0x7FFFFFFF:
        raise EngineError(f"device number {value!r} is out of range", step="device rules",
                          obj=str(value))
    return value


def normalize(rules: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> DevicePolicy:
    """Reduce OCI rules like the v1 controller: ``a *:* rwm`` resets, others are exceptions."""
    default_allow = False
    kept: list[DeviceRule] = []
    for raw in rules:
        rule = parse_rule(raw)
        if rule.kind is None and rule.major is None and rule.minor is None and \
                rule.access == ACC_MKNOD | ACC_READ | ACC_WRITE:
            default_allow, kept = rule.allow, []
        else:
            kept.append(rule)
    return DevicePolicy(default_allow, tuple(kept))


def compile_policy(policy: DevicePolicy) -> list[Insn]:
    """The program for ``policy``: a prologue, one block per exception (last first), default."""
    prog = [
        Insn(LDX_MEM_W, R2, R1, 0), Insn(ALU32_AND_K, R2, imm=0xFFFF),
        Insn(LDX_MEM_W, R3, R1, 0), Insn(ALU32_RSH_K, R3, imm=16),
        Insn(LDX_MEM_W, R4, R1, 4), Insn(LDX_MEM_W, R5, R1, 8),
    ]
    for rule in reversed(policy.rules):
        prog.extend(_rule_block(rule))
    prog.extend(_verdict(policy.default_allow))
    return prog


def compile_rules(rules: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> list[Insn]:
    """OCI rules → program (see module docstring for the semantics)."""
    return compile_policy(normalize(rules))


def assemble(prog: list[Insn]) -> bytes:
    """The instructions as the kernel reads them."""
    return b"".join(i.pack() for i in prog)


def _verdict(allow: bool) -> list[Insn]:
    return [Insn(ALU64_MOV_K, R0, imm=1 if allow else 0), Insn(JMP_EXIT)]


def _rule_block(rule: DeviceRule) -> list[Insn]:
    # Each test jumps to the end of this block (the next rule) when the rule does not match;
    # offsets are filled once the block's length is known.
    tests: list[tuple[int, int, int]] = []  # (opcode, register, imm) jumping away on mismatch
    if rule.kind is not None:
        tests.append((JMP_JNE_K, R2, rule.kind))
    if rule.major is not None:
        tests.append((JMP_JNE_K, R4, rule.major))
    if rule.minor is not None:
        tests.append((JMP_JNE_K, R5, rule.minor))
    body: list[tuple[int, int, int, int]] = [(op, reg, 0, imm) for op, reg, imm in tests]
    if rule.allow:
        # every requested bit must be granted: mismatch when any bit is outside the rule
        outside = ~rule.access & (ACC_MKNOD | ACC_READ | ACC_WRITE)
        if outside:
            body.append((JMP_JSET_K, R3, 0, outside))
    else:
        # a deny covers the request when they share any bit: mismatch when none is shared
        body.append((ALU32_MOV_X, R1, R3, 0))
        body.append((ALU32_AND_K, R1, 0, rule.access))
        body.append((JMP_JEQ_K, R1, 0, 0))
    n = len(body) + 2  # + verdict
    out: list[Insn] = []
    for idx, (op, dst, src, imm) in enumerate(body):
        if op in (JMP_JNE_K, JMP_JSET_K, JMP_JEQ_K):
            out.append(Insn(op, dst, 0, n - idx - 1, imm))
        else:
            out.append(Insn(op, dst, src, 0, imm))
    return out + _verdict(rule.allow)
