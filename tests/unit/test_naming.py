"""Object ids: docker's shape, and never a short form a resolver reads as a number."""
from __future__ import annotations

import pytest

from engine import naming


def test_ids_are_64_hex() -> None:
    obj_id = naming.new_id()
    assert len(obj_id) == 64 and int(obj_id, 16) >= 0


def test_an_all_digit_short_id_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    draws = iter([bytes.fromhex("495947477305" + "0" * 52),
                  bytes.fromhex("4959474773a5" + "0" * 52)])
    monkeypatch.setattr(naming.os, "urandom", lambda n: next(draws))
    assert naming.new_id().startswith("4959474773a5")
