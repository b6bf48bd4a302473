"""OCI seccomp JSON -> libseccomp filter (built, not loaded; no root)."""
from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pyseccomp
import pytest

from engine.errors import EngineError
from engine.runtime.seccomp import action, build_filter
from tests.integration.runtime.bundles import DENY_PROFILE


def _pfc(profile: dict) -> str:  # type: ignore[type-arg]
    flt = build_filter(profile, set_nnp=False)
    with tempfile.TemporaryFile("w+") as f:
        flt.export_pfc(f)
        f.seek(0)
        return f.read()


def test_actions() -> None:
    assert action("SCMP_ACT_ALLOW") == pyseccomp.ALLOW
    assert action("SCMP_ACT_ERRNO") == pyseccomp.ERRNO(errno.EPERM)
    assert action("SCMP_ACT_ERRNO", 38) == pyseccomp.ERRNO(38)
    with pytest.raises(EngineError, match="SCMP_ACT_BOGUS"):
        action("SCMP_ACT_BOGUS")


def test_profile_rules_appear_in_filter() -> None:
    text = _pfc(DENY_PROFILE)
    assert "mount" in text and "reboot" in text and "unshare" in text
    assert "ERRNO(1)" in text
    assert "getpid" not in text  # default allow: no rule


def test_arg_conditions_and_unknown_syscalls() -> None:
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["read", "no_such_syscall_xyz"], "action": "SCMP_ACT_ALLOW"}]}
    text = _pfc(profile)
    assert "personality" in text and "read" in text
    assert "no_such_syscall_xyz" not in text


def test_bad_profile_fails_create_before_anything_is_made(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from engine.runtime import BuiltinRuntime
    from tests.integration.runtime.bundles import make_config, write_bundle

    monkeypatch.setattr("os.geteuid", lambda: 0)
    bundle = write_bundle(tmp_path / "b", make_config(
        ["true"], seccomp={"defaultAction": "SCMP_ACT_BOGUS"}))
    with pytest.raises(EngineError, match="unsupported seccomp action 'SCMP_ACT_BOGUS'"):
        BuiltinRuntime(root=tmp_path / "state").create("c", bundle)
    assert not (tmp_path / "state").exists()


def test_compiled_program_is_cached_bpf() -> None:
    from engine.runtime.seccomp import compile_bpf

    a = compile_bpf(DENY_PROFILE)
    assert a is compile_bpf(dict(DENY_PROFILE))
    assert len(a) % 8 == 0 and len(a) > 8 * 10  # whole sock_filter instructions


def test_compiled_program_is_kept_on_disk_for_the_next_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each container start is a new shim process: the program compiled once per state root
    is read back, not compiled again; a damaged file is compiled again."""
    from engine.runtime import seccomp

    seccomp._CACHE.clear()
    cache = tmp_path / "cache"
    first = seccomp.compile_bpf(DENY_PROFILE, cache)
    [kept] = cache.iterdir()
    assert kept.read_bytes() == first
    seccomp._CACHE.clear()  # as in a new process

    def no_compile(profile: object) -> bytes:
        raise AssertionError("compiled again")

    real = seccomp._compile
    monkeypatch.setattr(seccomp, "_compile", no_compile)
    assert seccomp.compile_bpf(DENY_PROFILE, cache) == first
    other = {**DENY_PROFILE, "defaultAction": "SCMP_ACT_ERRNO"}
    with pytest.raises(AssertionError, match="compiled again"):
        seccomp.compile_bpf(other, cache)  # another profile, another file
    monkeypatch.setattr(seccomp, "_compile", real)
    seccomp._CACHE.clear()
    kept.write_bytes(b"\0" * 7)  # not whole instructions
    assert seccomp.compile_bpf(DENY_PROFILE, cache) == first
    assert kept.read_bytes() == first
