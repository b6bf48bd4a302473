"""The service dependency graph."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import GraphError
from compose.graph import build_graph, find_cycle
from tests.unit.config.helpers import load_in, write


def graph_of(tmp_path: Path, services: str):  # type: ignore[no-untyped-def]
    write(tmp_path, "compose.yaml", "services:\n" + services)
    return build_graph(load_in(tmp_path))


def test_edges_from_all_sources(tmp_path: Path) -> None:
    g = graph_of(tmp_path, """
      web:
        image: x
        depends_on:
          db: {condition: service_healthy, restart: true}
          cache: {condition: service_started, required: false}
        links: ["db:database"]
      db: {image: x}
      cache: {image: x}
      sidecar: {image: x, network_mode: "service:web", volumes_from: ["db:ro"]}
    """)
    edges = {(e.service, e.dependency): e for e in g.edges}
    assert set(edges) == {("web", "db"), ("web", "cache"), ("sidecar", "web"),
                          ("sidecar", "db")}
    assert edges[("web", "db")].condition == "service_healthy" and edges[("web", "db")].restart
    assert not edges[("web", "cache")].required
    # like docker compose, links / service: namespaces / volumes_from become depends_on entries
    assert edges[("sidecar", "web")].condition == "service_started"
    assert edges[("sidecar", "web")].restart and not edges[("sidecar", "db")].restart


def test_generations_and_orders(tmp_path: Path) -> None:
    g = graph_of(tmp_path, """
      a: {image: x, depends_on: [b, c]}
      b: {image: x, depends_on: [d]}
      c: {image: x, depends_on: [d]}
      d: {image: x}
      e: {image: x}
    """)
    assert g.generations() == [["d", "e"], ["b", "c"], ["a"]]
    assert g.start_order() == ["d", "e", "b", "c", "a"]
    assert g.stop_order() == ["a", "c", "b", "e", "d"]
    assert g.with_dependencies(["b"]) == ["d", "b"]
    nx_graph = g.to_networkx()
    assert nx_graph.edges["a", "b"]["condition"] == "service_started"


def test_cycle_is_named_in_full(tmp_path: Path) -> None:
    with pytest.raises(GraphError) as info:
        graph_of(tmp_path, """
          a: {image: x, depends_on: [b]}
          b: {image: x, depends_on: [c]}
          c: {image: x, links: [a]}
        """)
    assert "a -> b -> c -> a" in info.value.message


def test_find_cycle_none_for_dag(tmp_path: Path) -> None:
    g = graph_of(tmp_path, "  a: {image: x, depends_on: [b]}\n  b: {image: x}\n")
    assert find_cycle(g) is None


def test_renderers_label_every_edge(tmp_path: Path) -> None:
    from compose.cli.commands.graph import render_dot, render_mermaid, render_text

    g = graph_of(tmp_path, """
      web:
        image: x
        depends_on:
          api: {condition: service_healthy, restart: true}
          cache: {condition: service_started, required: false}
      api: {image: x, depends_on: {db: {condition: service_completed_successfully}}}
      cache: {image: x}
      db: {image: x}
    """)
    assert render_text(g) == (
        "web\n"
        "├── api (service_healthy, restart)\n"
        "│   └── db (service_completed_successfully)\n"
        "└── cache (service_started, optional)\n"
    )
    mermaid = render_mermaid(g)
    assert "s_web -->|service_healthy, restart| s_api" in mermaid
    assert "s_api -->|service_completed_successfully| s_db" in mermaid
    dot = render_dot(g, "demo")
    assert dot.startswith('digraph "demo" {') and dot.count("->") == 3
