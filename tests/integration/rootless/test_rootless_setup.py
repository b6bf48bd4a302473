"""A user without subordinate ids gets one sentence naming the file and the line to add, and
nothing is created for them."""
from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rootless import user as u

pytestmark = pytest.mark.root


@pytest.fixture
def nobody(rootless_user: u.TestUser) -> Iterator[tuple[u.TestUser, Path]]:
    pw = pwd.getpwnam("nobody")
    for path in u.SUBID_FILES:
        lines = path.read_text().splitlines() if path.exists() else []
        if any(line.split(":")[0] in ("nobody", str(pw.pw_uid)) for line in lines):
            pytest.skip(f"this host gives nobody a range in {path}")
    base = Path(tempfile.mkdtemp(prefix="pycompose-nobody-"))
    os.chown(base, pw.pw_uid, pw.pw_gid)
    user = u.TestUser("nobody", pw.pw_uid, pw.pw_gid, base, rootless_user.python,
                      rootless_user.pythonpath)
    yield user, base
    shutil.rmtree(base, ignore_errors=True)


def test_missing_subuid_line_is_one_clear_error(nobody: tuple[u.TestUser, Path]) -> None:
    user, base = nobody
    runtime = Path(f"/tmp/pycompose-{user.uid}")
    existed = runtime.exists()
    done = u.run_as(user, [str(user.python), "-m", "compose.cli.main", "ls"],
                    env=u.user_env(user, base / "state"), cwd=base, timeout=60)
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one sentence, no traceback
    assert "/etc/subuid" in lines[0] and "'nobody:100000:65536'" in lines[0], lines[0]
    assert "usermod --add-subuids 100000-165535 nobody" in lines[0], lines[0]
    assert not (base / "state").exists()
    assert runtime.exists() == existed
