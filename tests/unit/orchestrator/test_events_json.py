"""``events --json``: supervisor/CLI events in docker compose's shape."""
from __future__ import annotations

import json

import pytest

from compose.cli.commands import events


def _one(capsys: pytest.CaptureFixture[str], ev: dict[str, object]) -> dict[str, object]:
    events._print(ev, as_json=True)
    (line,) = capsys.readouterr().out.splitlines()
    out: dict[str, object] = json.loads(line)
    return out


@pytest.mark.parametrize(("kind", "action"), [
    ("created", "create"), ("started", "start"), ("stopped", "stop"), ("killed", "kill"),
    ("exited", "die"), ("destroyed", "destroy"), ("paused", "pause"),
    ("healthy", "health_status: healthy"), ("restarting", "restart")])
def test_lifecycle_kinds_map_to_docker_actions(capsys: pytest.CaptureFixture[str], kind: str,
                                                action: str) -> None:
    out = _one(capsys, {"event": kind, "container": "c1", "service": "web", "name": "p-web-1",
                        "time": 1700000000.5})
    assert out["action"] == action
    assert (out["type"], out["id"], out["service"]) == ("container", "c1", "web")
    assert str(out["time"]).startswith("2023-11-14T22:13:20.5")


def test_attributes_only_where_they_apply(capsys: pytest.CaptureFixture[str]) -> None:
    die = _one(capsys, {"event": "exited", "container": "c1", "service": "web",
                        "name": "p-web-1", "exit_code": 4, "image": "", "time": 1.0})
    assert die["attributes"] == {"name": "p-web-1", "service": "web", "exitCode": 4}
    kill = _one(capsys, {"event": "killed", "container": "c1", "service": "web",
                         "name": "p-web-1", "exit_code": None, "image": "busybox",
                         "signal": "SIGKILL", "time": 1.0})
    assert kill["attributes"] == {"name": "p-web-1", "service": "web", "image": "busybox",
                                  "signal": "SIGKILL"}
