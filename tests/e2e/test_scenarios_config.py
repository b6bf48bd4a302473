"""Scenario: interpolation from the project's ``.env``, ``${VAR:-default}`` / ``${VAR-default}``
and the shell environment (which beats ``.env``), seen both in ``pycompose config`` and inside
the running container."""
from __future__ import annotations

import json

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]

DOTENV = """\
# the project's .env: for interpolation only, not injected into containers
GREETING=from-dotenv
OVERRIDDEN=from-dotenv
EMPTY=
ONLY_IN_DOTENV=secret
"""

EXPECTED = {
    "GREETING": "from-dotenv",          # .env
    "OVERRIDDEN": "from-shell",         # shell environment beats .env
    "FALLBACK": "fallback-default",     # ${UNSET:-...}: unset -> default
    "EMPTY_COLON": "used-when-empty",   # ${EMPTY:-...}: empty -> default
    "EMPTY_DASH": "",                   # ${EMPTY-...}: set (even empty) -> its value
    "UNSET_DASH": "dash-default",       # ${UNSET-...}: unset -> default
}


def test_dotenv_defaults_and_shell_override(scenario: Scenario,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sc = scenario
    monkeypatch.setenv("OVERRIDDEN", "from-shell")
    monkeypatch.delenv("PCSC_UNSET", raising=False)
    (sc.dir / ".env").write_text(DOTENV)
    sc.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo greeting=$$GREETING tag=${{GREETING}}; {SLEEPER}"]
    environment:
      GREETING: ${{GREETING}}
      OVERRIDDEN: ${{OVERRIDDEN}}
      FALLBACK: ${{PCSC_UNSET:-fallback-default}}
      EMPTY_COLON: ${{EMPTY:-used-when-empty}}
      EMPTY_DASH: ${{EMPTY-not-used}}
      UNSET_DASH: ${{PCSC_UNSET-dash-default}}
""")
    config = json.loads(sc.run("config", "--format", "json").stdout)
    env = config["services"]["app"]["environment"]
    assert {k: env[k] for k in EXPECTED} == EXPECTED
    assert "ONLY_IN_DOTENV" not in env
    command = config["services"]["app"]["command"]
    assert "echo greeting=$$GREETING tag=from-dotenv" in command[2]  # $$ kept escaped

    sc.up("-d", "--wait")
    inside = dict(line.split("=", 1) for line in
                  sc.run("exec", "-T", "app", "env").stdout.splitlines() if "=" in line)
    assert {k: inside.get(k) for k in EXPECTED} == EXPECTED
    assert "ONLY_IN_DOTENV" not in inside
    logs = sc.run("logs", "--no-log-prefix", "app").stdout
    assert "greeting=from-dotenv tag=from-dotenv" in logs  # $$ reached the shell as $
