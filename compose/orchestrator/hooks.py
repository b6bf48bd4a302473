"""``post_start`` and ``pre_stop`` lifecycle hooks, with docker compose's semantics.

A hook is an exec in the service's container: ``post_start`` hooks run in order right after the
container started (the container's own command may already be running), ``pre_stop`` hooks
before it is asked to stop. A hook exiting non-zero fails the operation with docker compose's
sentence, ``<service> hook exited with status N: <last output lines>``; the container itself
is left as it is. ``down`` reports a failed pre_stop hook and stops the container anyway (down
must always be able to clean up), where docker compose would leave it running.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from compose.errors import ComposeError

if TYPE_CHECKING:
    from compose.config.model import Hook, Project
    from compose.orchestrator.backend import Backend

log = logging.getLogger(__name__)

_TAIL_LINES = 10
_TAIL_BYTES = 2048

# service name -> (post_start hooks, pre_stop hooks)
Hooks = Mapping[str, "tuple[tuple[Hook, ...], tuple[Hook, ...]]"]


class HookError(ComposeError):
    """A lifecycle hook exited non-zero."""


def project_hooks(project: Project | None) -> Hooks:
    """The hooks of every service that has some (nothing without a project file)."""
    if project is None:
        return {}
    return {name: (svc.post_start, svc.pre_stop) for name, svc in project.services.items()
            if svc.post_start or svc.pre_stop}


def run_hooks(backend: Backend, cid: str, service: str, hooks: tuple[Hook, ...]) -> None:
    """Run ``hooks`` in order in container ``cid``; HookError at the first that fails."""
    for hook in hooks:
        env = tuple(f"{k}={v}" for k, v in hook.environment.items() if v is not None)
        code, out, err = backend.exec_output(cid, list(hook.command), env=env,
                                             user=hook.user or "",
                                             workdir=hook.working_dir or "")
        if code != 0:
            raise HookError(_failure(service, code, out, err))


def _failure(service: str, code: int, out: bytes, err: bytes) -> str:
    """docker compose's message: stderr's tail preferred over stdout's."""
    text = _tail(err) or _tail(out)
    head = f"{service} hook exited with status {code}"
    return f"{head}: {text}" if text else head


def _tail(data: bytes) -> str:
    lines = data[-_TAIL_BYTES:].decode(errors="replace").rstrip("\n").splitlines()
    return "\n".join(line.rsplit("\r", 1)[-1] for line in lines[-_TAIL_LINES:])
