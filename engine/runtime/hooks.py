"""OCI lifecycle hooks run in the runtime's namespace: createRuntime and prestart (after the
container's namespaces exist, before pivot_root), poststart (after start), poststop (on delete).

Each hook gets the container's state JSON on stdin; a failing createRuntime/prestart hook fails
the create, later ones only log a warning (as the runtime spec says).
"""
from __future__ import annotations

import json
import logging
import subprocess
from typing import Any

from engine.errors import EngineError

log = logging.getLogger(__name__)

EARLY = ("createRuntime", "prestart")


def run_hooks(kind: str, hooks: list[dict[str, Any]], state: dict[str, Any], *,
              fatal: bool) -> None:
    """Run every hook of ``kind`` in order with ``state`` on stdin."""
    for hook in hooks:
        args = hook.get("args") or [hook["path"]]
        env = dict(e.partition("=")[::2] for e in hook.get("env") or ())
        try:
            proc = subprocess.run(args, executable=hook["path"], input=json.dumps(state),
                                  capture_output=True, text=True, env=env,
                                  timeout=hook.get("timeout"))
            problem = f"exit status {proc.returncode}: {proc.stderr.strip()}" \
                if proc.returncode else ""
        except (OSError, subprocess.TimeoutExpired) as e:
            problem = str(e)
        if problem:
            if fatal:
                raise EngineError(f"{hook['path']}: {problem}", step=f"{kind} hook",
                                  obj=state.get("id"))
            log.warning("%s hook %s failed: %s", kind, hook["path"], problem)


def early_hooks(config_hooks: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The hooks to run before pivot_root, in spec order."""
    return [(k, list(config_hooks.get(k) or ())) for k in EARLY if config_hooks.get(k)]
