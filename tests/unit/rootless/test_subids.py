"""Subordinate id ranges: parsing, and the errors that name the one-time set-up step."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.rootless import subids
from engine.rootless.subids import IdRange, RootlessSetupError


def test_parse_finds_the_user_by_name_or_uid() -> None:
    text = "other:100000:65536\n# comment\nalice:165536:65536\n"
    assert subids.parse(text, "alice", 1000) == IdRange(165536, 65536)
    assert subids.parse("1000:200000:1000\n", "alice", 1000) == IdRange(200000, 1000)


def test_parse_skips_malformed_and_empty_ranges() -> None:
    text = "alice:x:65536\nalice:100000:0\nalice:300000:10\n"
    assert subids.parse(text, "alice", 1000) == IdRange(300000, 10)
    assert subids.parse("bob:1:2\n", "alice", 1000) is None


def test_missing_range_names_the_file_and_the_line_to_add(tmp_path: Path) -> None:
    subuid = tmp_path / "subuid"
    subuid.write_text("bob:100000:65536\n")
    with pytest.raises(RootlessSetupError) as err:
        subids.read_range(subuid, "alice", 1000)
    text = str(err.value)
    assert str(subuid) in text and "'alice:100000:65536'" in text
    assert "usermod --add-subuids 100000-165535 alice" in text


def test_missing_file_is_the_same_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RootlessSetupError, match="subgid"):
        subids.read_range(tmp_path / "subgid", "alice", 1000)


def test_mapping_reads_both_files(tmp_path: Path) -> None:
    (tmp_path / "subuid").write_text("7:100000:65536\n")
    (tmp_path / "subgid").write_text("7:200000:65536\n")
    got = subids.mapping(7, 8, tmp_path / "subuid", tmp_path / "subgid")
    assert got.uids == IdRange(100000, 65536) and got.gids == IdRange(200000, 65536)
    assert (got.uid, got.gid) == (7, 8)


def test_map_args_put_the_user_at_root_and_the_range_above() -> None:
    assert subids.map_args(42, 1000, IdRange(100000, 65536)) == [
        "42", "0", "1000", "1", "1", "100000", "65536"]


def test_missing_helper_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subids.shutil, "which", lambda name: None)
    monkeypatch.setattr(subids.Path, "exists", lambda self: False)
    with pytest.raises(RootlessSetupError, match="apt-get install uidmap"):
        subids.helper("newuidmap")
