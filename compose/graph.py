"""The service dependency graph: who must start before whom.

Edges come from ``depends_on`` (carrying condition, required and restart), ``links``,
``network_mode: service:x`` and ``volumes_from``. An edge ``a -> b`` means *a depends on b*.
Cycle detection and the start/stop orders are plain Python (cheap to import, which matters
for ``config``); :meth:`ServiceGraph.to_networkx` builds a networkx DiGraph on demand.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from compose.errors import GraphError

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    import networkx as nx

    from compose.config.model import Project


@dataclass(frozen=True, slots=True)
class Edge:
    """``service`` depends on ``dependency``; ``kind`` says which key created the edge."""

    service: str
    dependency: str
    condition: str = "service_started"
    required: bool = True
    restart: bool = False
    kind: str = "depends_on"  # depends_on | links | network_mode | volumes_from


@dataclass(frozen=True, slots=True)
class ServiceGraph:
    """Services and their dependency edges (validated: no cycle, no unknown service)."""

    services: tuple[str, ...]
    edges: tuple[Edge, ...]

    def dependencies(self, service: str) -> tuple[Edge, ...]:
        """Edges from ``service`` to what it needs."""
        return tuple(e for e in self.edges if e.service == service)

    def dependents(self, service: str) -> tuple[Edge, ...]:
        """Edges from services that need ``service``."""
        return tuple(e for e in self.edges if e.dependency == service)

    def generations(self) -> list[list[str]]:
        """Start order in layers: each layer depends only on earlier ones (sorted by name)."""
        remaining = {s: {e.dependency for e in self.dependencies(s)} for s in self.services}
        layers: list[list[str]] = []
        while remaining:
            ready = sorted(s for s, deps in remaining.items() if not deps)
            if not ready:  # cannot happen after build_graph's check; keep the loop finite
                raise GraphError(f"dependency cycle: {find_cycle(self)}")
            layers.append(ready)
            for s in ready:
                del remaining[s]
            for deps in remaining.values():
                deps.difference_update(ready)
        return layers

    def start_order(self) -> list[str]:
        """Every service, dependencies first."""
        return [s for layer in self.generations() for s in layer]

    def stop_order(self) -> list[str]:
        """Every service, dependents first (the reverse of the start order)."""
        return [s for layer in reversed(self.generations()) for s in reversed(layer)]

    def with_dependencies(self, targets: list[str]) -> list[str]:
        """``targets`` plus everything they (transitively) depend on, in start order."""
        wanted: set[str] = set()
        stack = list(targets)
        while stack:
            name = stack.pop()
            if name not in wanted:
                wanted.add(name)
                stack.extend(e.dependency for e in self.dependencies(name))
        return [s for s in self.start_order() if s in wanted]

    def to_networkx(self) -> nx.DiGraph:
        """A networkx DiGraph (edge attributes: condition, required, restart, kind)."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self.services)
        for e in self.edges:
            graph.add_edge(e.service, e.dependency, condition=e.condition,
                           required=e.required, restart=e.restart, kind=e.kind)
        return graph


def build_graph(project: Project) -> ServiceGraph:
    """The graph of ``project``'s enabled services; GraphError on a cycle or unknown name."""
    edges = list(_edges(project.services))
    known = set(project.services)
    for e in edges:
        if e.dependency not in known and e.required:
            raise GraphError(
                f"service {e.service!r} depends on undefined service {e.dependency!r} "
                f"(via {e.kind})", key_path=f"services.{e.service}.{e.kind}")
    edges = [e for e in edges if e.dependency in known]
    graph = ServiceGraph(tuple(sorted(project.services)), tuple(edges))
    cycle = find_cycle(graph)
    if cycle:
        first = cycle.split(" -> ", 1)[0]
        kind = next((e.kind for e in graph.dependencies(first)), "depends_on")
        raise GraphError(f"dependency cycle detected: {cycle}", key_path=f"services.{first}.{kind}")
    return graph


def _edges(services: Mapping[str, Any]) -> Iterator[Edge]:
    for name, svc in services.items():
        seen: set[str] = set()
        for dep, spec in svc.depends_on.items():
            seen.add(dep)
            yield Edge(name, dep, spec.condition, spec.required, spec.restart)
        for dep, kind in _implicit(svc):
            if dep not in seen:
                seen.add(dep)
                yield Edge(name, dep, kind=kind)


def _implicit(svc: Any) -> Iterator[tuple[str, str]]:
    for link in svc.links:
        yield link.split(":", 1)[0], "links"
    mode = svc.network_mode or ""
    if mode.startswith("service:"):
        yield mode.split(":", 1)[1], "network_mode"
    for ref in svc.volumes_from:
        if not ref.startswith("container:"):
            yield ref.split(":", 1)[0], "volumes_from"


def find_cycle(graph: ServiceGraph) -> str | None:
    """``"a -> b -> c -> a"`` for the first cycle found (depth-first), else None."""
    adjacency: dict[str, list[str]] = {s: [] for s in graph.services}
    for e in graph.edges:
        adjacency.setdefault(e.service, []).append(e.dependency)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> str | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(adjacency.get(node, ())):
            if state.get(nxt) == 1:
                return " -> ".join([*path[path.index(nxt):], nxt])
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(adjacency):
        if start not in state and (found := visit(start)):
            return found
    return None
