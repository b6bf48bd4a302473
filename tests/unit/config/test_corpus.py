"""Every compose file of the shared corpus loads with ``pycompose config`` (exit 0), and the
printed canonical form loads again to the same model."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compose.cli.main import main
from tests.conftest import CORPUS

FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file()
               and p.name in ("compose.yaml", "compose.yml", "docker-compose.yaml",
                              "docker-compose.yml")) if CORPUS.is_dir() else []


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "COMPOSE_PROFILES"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.skipif(not FILES, reason=f"no corpus at {CORPUS}")
@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_corpus_file_loads(path: Path, capsys: pytest.CaptureFixture[str],
                           tmp_path: Path) -> None:
    code = main(["-f", str(path), "config"])
    out, err = capsys.readouterr()
    assert code == 0, err
    doc = yaml.safe_load(out)
    assert doc["name"] and doc["services"]
    # round trip: the canonical output is itself a valid compose file with the same meaning
    again = tmp_path / "compose.yaml"
    again.write_text(out)
    code = main(["-f", str(again), "--project-directory", str(path.parent), "config"])
    out2, err2 = capsys.readouterr()
    assert code == 0, err2
    assert yaml.safe_load(out2) == doc


def test_corpus_is_present_when_expected() -> None:
    if CORPUS.is_dir():
        assert len(FILES) >= 30
