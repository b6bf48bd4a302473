"""Starting a project's existing containers in dependency order (``start``, ``restart``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from compose.orchestrator import labels as L

if TYPE_CHECKING:
    from compose.orchestrator.backend import Backend, ContainerRef
    from compose.orchestrator.hooks import Hooks


def start_containers(be: Backend, name: str, cs: list[ContainerRef],
                     progress: Callable[[str, str], None],
                     hooks: Hooks | None = None) -> list[str]:
    """Start stopped containers, dependencies first (from the depends_on labels), each one's
    post_start hooks right after it; returns one failure reason per service that did not
    start (also reported as ``Error: ...``)."""
    from compose.orchestrator import client, state
    from compose.orchestrator.executor import Dependency, Executor, Node, Outcome
    from compose.orchestrator.hooks import run_hooks

    client.ensure_supervisor(name)
    by_service: dict[str, list[ContainerRef]] = {}
    for c in cs:
        by_service.setdefault(c.labels.get(L.SERVICE, c.name), []).append(c)
    nodes = []
    for svc, group in by_service.items():
        deps = {d.split(":", 1)[0] for d in group[0].labels.get(L.DEPENDS_ON, "").split(",") if d}
        nodes.append(Node(svc, tuple(Dependency(d) for d in sorted(deps) if d in by_service)))

    def act(service: str) -> None:
        for c in by_service[service]:
            if c.running:
                continue
            progress(c.name, "Starting")
            state.update(c.id, stopped_by_user=False)
            be.start_container(c.id)
            client.watch(name, c.id)
            run_hooks(be, c.id, service, (hooks or {}).get(service, ((), ()))[0])
            progress(c.name, "Started")

    runs = Executor(nodes, act).run()
    failed = [r for r in runs.values() if r.outcome is not Outcome.DONE]
    for r in failed:
        progress(r.name, f"Error: {r.reason}")
    return [r.reason for r in failed]
