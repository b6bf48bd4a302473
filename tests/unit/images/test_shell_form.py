from __future__ import annotations

import pytest

from engine.images.builder.errors import BuildError
from engine.images.builder.parser import parse
from engine.images.builder.stage import StageState, apply_metadata, parse_duration


def _apply(text: str, state: StageState | None = None) -> StageState:
    state = state or StageState(name=None)
    for ins in parse("FROM scratch\n" + text).instructions[1:]:
        apply_metadata(state, ins, "Dockerfile")
    return state


def test_metadata_instructions() -> None:
    s = _apply('ENV A=1 B="2 3"\nENV C $A\nLABEL "k"="v w"\nEXPOSE 80 53/udp 8000-8001\n'
               'USER app:app\nVOLUME ["/data"]\nVOLUME /a /b\nSTOPSIGNAL SIGINT\n'
               'SHELL ["/bin/bash", "-c"]\nCMD echo hi\n'
               'HEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 CMD ["true"]\n')
    assert s.config["Env"] == ["A=1", "B=2 3", "C=1"]
    assert s.config["Labels"] == {"k": "v w"}
    assert set(s.config["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert s.config["User"] == "app:app"
    assert set(s.config["Volumes"]) == {"/data", "/a", "/b"}
    assert s.config["StopSignal"] == "SIGINT"
    assert s.config["Cmd"] == ["/bin/bash", "-c", "echo hi"]
    hc = s.config["Healthcheck"]
    assert hc == {"Test": ["CMD", "true"], "Interval": 90_000_000_000,
                  "Timeout": 500_000_000, "Retries": 3}


def test_entrypoint_resets_inherited_cmd() -> None:
    base = StageState(name=None, config={"Cmd": ["sh"]})
    s = _apply('ENTRYPOINT ["/bin/app"]\n', base)
    assert s.config["Entrypoint"] == ["/bin/app"] and "Cmd" not in s.config
    s2 = _apply('CMD ["x"]\nENTRYPOINT ["/bin/app"]\n')
    assert s2.config["Cmd"] == ["x"]


def test_healthcheck_none_and_errors() -> None:
    assert _apply("HEALTHCHECK NONE\n").config["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(BuildError, match="invalid duration"):
        _apply("HEALTHCHECK --interval=soon CMD true\n")
    with pytest.raises(BuildError, match="invalid port"):
        _apply("EXPOSE http\n")
    with pytest.raises(BuildError, match="JSON form"):
        _apply("SHELL /bin/sh -c\n")


def test_duration() -> None:
    ins = parse("FROM scratch\n").instructions[0]
    assert parse_duration("1h2m3s", ins, "D") == 3_723_000_000_000
