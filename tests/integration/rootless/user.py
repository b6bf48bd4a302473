"""The real unprivileged user the rootless tests run pycompose as, and how to run as it.

Created once (idempotently) by the session fixture: a dedicated account ``pcrootless`` with a
``/etc/subuid`` and ``/etc/subgid`` range that overlaps no other line. No other account is
touched. Commands run through ``setpriv`` with the user's uid, gid and groups: a real user, not
root with dropped capabilities.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

USER = "pcrootless"
SUBID_FILES = (Path("/etc/subuid"), Path("/etc/subgid"))
SUBID_BASE = 100000
SUBID_COUNT = 65536
TOOLS = ("newuidmap", "newgidmap", "pasta", "setpriv", "useradd")


@dataclass(frozen=True, slots=True)
class TestUser:
    """The account and how its commands find pycompose."""

    name: str
    uid: int
    gid: int
    home: Path
    python: Path
    pythonpath: str | None


def missing_capability() -> str | None:
    """Why rootless tests cannot run here (a missing host capability), else None."""
    if os.geteuid() != 0:
        return "creating the test user needs root"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing {', '.join(missing)} (tests/setup.sh installs uidmap and passt)"
    try:
        if int(Path("/proc/sys/user/max_user_namespaces").read_text()) == 0:
            return "user namespaces are disabled (user.max_user_namespaces=0)"
    except OSError:
        return "no user namespaces in this kernel"
    return None


def ensure_account() -> pwd.struct_passwd:
    """The test account, created with a home and subordinate ranges when missing."""
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", "--comment",
                        "pycompose rootless tests", USER], check=True, timeout=60)
        pw = pwd.getpwnam(USER)
    for path in SUBID_FILES:
        _ensure_range(path, pw)
    return pw


def _ensure_range(path: Path, pw: pwd.struct_passwd) -> None:
    text = path.read_text() if path.exists() else ""
    lines = [line.split(":") for line in text.splitlines() if line.count(":") == 2]
    if any(f[0] in (USER, str(pw.pw_uid)) for f in lines):
        return
    ends = [int(f[1]) + int(f[2]) for f in lines if f[1].isdigit() and f[2].isdigit()]
    start = max([SUBID_BASE, *ends])  # after every range already given: overlaps nothing
    with path.open("a") as out:
        if text and not text.endswith("\n"):
            out.write("\n")
        out.write(f"{USER}:{start}:{SUBID_COUNT}\n")


def user_env(user: TestUser, state: Path) -> dict[str, str]:
    """A login-like environment for the user, with a private state root."""
    env = {"HOME": str(user.home), "USER": user.name, "LOGNAME": user.name,
           "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
           "LANG": "C.UTF-8", "PYCOMPOSE_ROOT": str(state)}
    if user.pythonpath:
        env["PYTHONPATH"] = user.pythonpath
    return env


def run_as(user: TestUser, argv: list[str], *, env: dict[str, str], cwd: Path,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as the user (its uid, gid and groups; no capabilities)."""
    return subprocess.run(["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}",
                           "--init-groups", "--", *argv], env=env, cwd=cwd, text=True,
                          capture_output=True, timeout=timeout)


def can_import(python: Path, pythonpath: str | None, pw: pwd.struct_passwd) -> bool:
    """True when the user can run ``python`` and import pycompose from the checkout."""
    user = TestUser(pw.pw_name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir), python, pythonpath)
    env = user_env(user, Path("/nonexistent"))
    try:
        done = run_as(user, [str(python), "-c", "import compose.cli.main, engine.rootless"],
                      env=env, cwd=Path("/"), timeout=60)
    except OSError:
        return False
    return done.returncode == 0
