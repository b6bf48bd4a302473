"""develop.watch matching and batch planning (pure)."""
from __future__ import annotations

import tarfile
from io import BytesIO
from pathlib import Path

from compose.config.develop import WatchExec, WatchRule, develop_config, normalize_develop
from compose.orchestrator.watch import (
    Change,
    ignored,
    plan_batch,
    sync_archive,
    triggers,
)

SYNC = WatchRule(path="/p/src", action="sync", target="/app", ignore=("*.log", "tmp/", "!keep.log"))


def test_ignore_patterns_follow_dockerignore() -> None:
    assert ignored("a.log", ("*.log",))
    assert not ignored("d/a.log", ("*.log",))  # * does not cross directories
    assert ignored("d/a.log", ("**/*.log",))
    assert ignored("tmp/x/y", ("tmp/",))
    assert not ignored("keep.log", ("*.log", "!keep.log"))


def test_triggers_only_under_path_and_not_ignored() -> None:
    assert triggers(SYNC, "/p/src/a.py")
    assert not triggers(SYNC, "/p/srcx/a.py")
    assert not triggers(SYNC, "/p/src/a.log")
    assert triggers(SYNC, "/p/src/keep.log")
    assert not triggers(SYNC, "/p/src/.a.py.swp")  # editors' temporary files
    inc = WatchRule(path="/p/src", action="sync", target="/app", include=("*.py",))
    assert triggers(inc, "/p/src/a.py") and not triggers(inc, "/p/src/a.txt")


def test_plan_batch_groups_actions_per_service() -> None:
    hook = WatchExec(command=("kill", "-HUP", "1"))
    rules = {
        "web": (SYNC, WatchRule(path="/p/conf", action="sync+restart", target="/etc/w")),
        "api": (WatchRule(path="/p/api", action="rebuild"),
                WatchRule(path="/p/hooks", action="sync+exec", target="/h", exec=hook)),
    }
    plans = plan_batch(rules, [Change("/p/src/a.py"), Change("/p/src/old", deleted=True),
                               Change("/p/conf/x.conf"), Change("/p/hooks/h"),
                               Change("/p/other")])
    web = plans["web"]
    assert web.copy == {"/app/a.py": "/p/src/a.py", "/etc/w/x.conf": "/p/conf/x.conf"}
    assert web.delete == {"/app/old"} and web.restart and not web.rebuild
    assert plans["api"].execs == [hook] and plans["api"].copy == {"/h/h": "/p/hooks/h"}
    assert not plans["api"].rebuild
    assert plan_batch(rules, [Change("/p/api/main.go")])["api"].rebuild
    assert plan_batch(rules, [Change("/p/other")]) == {}


def test_sync_archive_names_files_by_container_path(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("hi")
    data = sync_archive({"/app/f.txt": str(tmp_path / "f.txt")})
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        (member,) = tar.getmembers()
        assert member.name == "app/f.txt" and member.uid == 0
        assert tar.extractfile(member).read() == b"hi"  # type: ignore[union-attr]


def test_normalize_and_model(tmp_path: Path) -> None:
    raw = normalize_develop({"watch": [{"path": "./src", "action": "sync+exec", "target": "/a",
                                        "ignore": "x", "exec": {"command": "kill -HUP 1"}}]},
                            str(tmp_path))
    rule = raw["watch"][0]
    assert rule["path"] == str(tmp_path / "src") and rule["ignore"] == ["x"]
    model = develop_config(raw)
    assert model is not None and model.watch[0].exec is not None
    assert model.watch[0].exec.command == ("kill", "-HUP", "1")


def test_git_dirs_and_the_build_context_dockerignore_are_never_synced(tmp_path: Path) -> None:
    from compose.orchestrator.watch import read_dockerignore

    (tmp_path / ".dockerignore").write_text("# comment\nnode_modules\n*.tmp\n")
    (tmp_path / "Dockerfile.dev.dockerignore").write_text("secret\n")
    rule = WatchRule(path=str(tmp_path), action="sync", target="/app")
    ctx = read_dockerignore(str(tmp_path), None)
    assert ctx.patterns == ("node_modules", "*.tmp")
    assert not triggers(rule, f"{tmp_path}/node_modules/x/y.js", ctx)
    assert not triggers(rule, f"{tmp_path}/a.tmp", ctx)
    assert not triggers(rule, f"{tmp_path}/.git/index", ctx)
    assert triggers(rule, f"{tmp_path}/src/a.js", ctx)
    assert read_dockerignore(str(tmp_path), "Dockerfile.dev").patterns == ("secret",)
    assert read_dockerignore(str(tmp_path / "none"), None).patterns == ()
