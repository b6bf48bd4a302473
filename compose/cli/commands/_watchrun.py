"""The watch runner behind ``watch`` and ``up --watch``: inotify (watchfiles) on every
``develop.watch`` path, a debounce like docker compose's (a batch is flushed once no change
came for ``QUIET_MS``), then per service: copy/delete in its running containers through
``tar``/``rm`` executed in the container (docker's copy path), restart, exec, or rebuild."""
from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from compose.cli import terminal
from compose.cli.commands._orch import containers_of
from compose.errors import ComposeError
from compose.orchestrator.watch import (
    SYNC_ACTIONS,
    Change,
    ServicePlan,
    initial_changes,
    plan_batch,
    read_dockerignore,
    sync_archive,
)

if TYPE_CHECKING:
    from compose.config.develop import WatchExec, WatchRule
    from compose.config.model import Project
    from compose.orchestrator.backend import Backend, ContainerRef

log = logging.getLogger(__name__)

# docker compose waits for 500 ms without changes; a shorter window keeps a save visible in
# the container well under a second while still batching an editor's burst of writes.
QUIET_MS = 150


def watch_rules(project: Project, services: tuple[str, ...]) -> dict[str, tuple[WatchRule, ...]]:
    """The ``develop.watch`` rules of the selected services (all when none is named),
    checked like docker compose: a rebuild needs ``build:``, sync needs ``target``."""
    rules = {}
    for name, svc in project.services.items():
        if services and name not in services:
            continue
        if svc.develop is None or not svc.develop.watch:
            continue
        for r in svc.develop.watch:
            if r.action == "rebuild" and svc.build is None:
                raise ComposeError(f"service {name!r}: develop.watch action 'rebuild' needs a "
                                   "build section")
            if r.action in SYNC_ACTIONS and not r.target:
                raise ComposeError(f"service {name!r}: develop.watch action {r.action!r} "
                                   "needs a target")
            if r.exec is not None and r.exec.privileged:
                raise ComposeError(f"service {name!r}: develop.watch exec.privileged is not "
                                   "supported by pycompose")
            if not os.path.exists(r.path):
                raise ComposeError(f"service {name!r}: develop.watch path {r.path} does not "
                                   "exist")
        rules[name] = svc.develop.watch
    if not rules:
        raise ComposeError("none of the selected services is configured for watch, consider "
                           "setting a 'develop' section")
    return rules


class Watcher:
    """Watches on a thread until :meth:`stop`; ``on_rebuild(service)`` recreates a service."""

    def __init__(self, project: Project, be: Backend, rules: dict[str, tuple[WatchRule, ...]],
                 on_rebuild: Callable[[str], None]) -> None:
        self.project, self.be, self.rules = project, be, rules
        self.contexts = {name: read_dockerignore(svc.build.context, svc.build.dockerfile)
                         for name, svc in project.services.items()
                         if name in rules and svc.build is not None}
        self.on_rebuild = on_rebuild
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def start(self) -> None:
        """Initial syncs, then watch in the background."""
        for service, rules in self.rules.items():
            for r in rules:
                if r.initial_sync and r.action in SYNC_ACTIONS:
                    self.apply(plan_batch({service: (r,)}, initial_changes(r),
                                          self.contexts))
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name="watch")
        self._thread.start()
        ready.wait(5)
        terminal.line("Watch enabled")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def wait(self) -> None:
        """Block until stopped (Ctrl-C raises KeyboardInterrupt here)."""
        while not self._stop.wait(3600):
            pass

    def _run(self, ready: threading.Event) -> None:
        from watchfiles import Change as Kind
        from watchfiles import watch

        paths = sorted({r.path for rules in self.rules.values() for r in rules})
        ready.set()
        for batch in watch(*paths, watch_filter=None, debounce=60_000, step=QUIET_MS,
                           stop_event=self._stop, rust_timeout=1000, yield_on_timeout=False,
                           raise_interrupt=False):
            changes = [Change(p, deleted=kind == Kind.deleted and not os.path.lexists(p))
                       for kind, p in sorted(batch, key=lambda c: c[1])]
            try:
                self.apply(plan_batch(self.rules, changes, self.contexts))
            except Exception as exc:  # one failed batch must not end the watch
                terminal.error(f"watch: {exc}")
            self.batches += 1

    def apply(self, plans: dict[str, ServicePlan]) -> None:
        """Carry out one batch, service by service."""
        for service, plan in sorted(plans.items()):
            if plan.rebuild:
                terminal.line(f"Rebuilding service {service!r} after {plan.changes} changes "
                              "were detected")
                self.on_rebuild(service)
                continue
            cs = [c for c in containers_of(self.be, self.project.name, [service], all=False)]
            if plan.copy or plan.delete:
                terminal.line(f"Syncing service {service!r} after {plan.changes} changes were "
                              "detected")
                for c in cs:
                    sync_into(c, plan)
            for hook in plan.execs:
                for c in cs:
                    run_hook(self.be, c, hook)
            if plan.restart and cs:
                restart(self.be, self.project.name, cs)
                terminal.line(f"service {service!r} restarted")


def sync_into(c: ContainerRef, plan: ServicePlan) -> None:
    """Delete then copy in one container (tar and rm run inside it, so volumes mounted over
    the target are written as the container sees them)."""
    from engine import containers

    if plan.delete:
        code = containers.exec(c.id, ["rm", "-rf", "--", *sorted(plan.delete)], stderr=2)
        if code != 0:
            raise ComposeError(f"{c.name}: removing synced files failed (rm exited {code})")
    if not plan.copy:
        return
    with tempfile.TemporaryFile() as tmp:
        tmp.write(sync_archive(plan.copy))
        tmp.seek(0)
        code = containers.exec(c.id, ["tar", "-C", "/", "-xf", "-"], stdin=tmp.fileno(),
                               stderr=2)
    if code != 0:
        raise ComposeError(f"{c.name}: copying changed files failed (tar exited {code})")


def run_hook(be: Backend, c: ContainerRef, hook: WatchExec) -> None:
    env = tuple(f"{k}={v}" for k, v in hook.environment.items())
    code = be.exec(c.id, list(hook.command), env=env, user=hook.user or "",
                   workdir=hook.working_dir or "", tty=False, interactive=False)
    if code != 0:
        terminal.error(f"{c.name}: watch exec {list(hook.command)} exited with code {code}")


def restart(be: Backend, project: str, cs: list[ContainerRef]) -> None:
    from compose.cli.commands._orch import Progress
    from compose.cli.commands.start import start_containers
    from compose.orchestrator.down import stop_containers

    progress = Progress("quiet")
    stop_containers(be, cs, None, progress)
    fresh = {c.id: c for c in be.list_containers(project)}
    start_containers(be, project, [fresh.get(c.id, c) for c in cs], progress)
