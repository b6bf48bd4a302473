"""``pycompose graph``: the service dependency graph as a text tree, Mermaid or DOT."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from compose.cli import terminal

if TYPE_CHECKING:
    from compose.graph import ServiceGraph

FORMATS = ("text", "mermaid", "dot")


def register(app: typer.Typer) -> None:
    """Add the ``graph`` command to ``app``."""
    app.command("graph", help="Show the service dependency graph.")(graph_command)


def graph_command(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="text, mermaid or dot.")
    ] = "text",
) -> None:
    """Print the dependency graph; each edge is labelled with its condition."""
    from compose.graph import build_graph

    if fmt not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    project = ctx.obj.load_project()
    graph = build_graph(project)
    render = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}[fmt]
    terminal.write(render(graph, project.name))


def _label(edge: object) -> str:
    from compose.graph import Edge

    assert isinstance(edge, Edge)
    label = edge.condition if edge.kind == "depends_on" else edge.kind
    if not edge.required:
        label += ", optional"
    if edge.restart:
        label += ", restart"
    return label


def render_text(graph: ServiceGraph, _name: str = "") -> str:
    """A tree per top-level service (one nothing depends on); dependencies below it."""
    roots = [s for s in graph.services if not graph.dependents(s)] or list(graph.services)
    lines: list[str] = []

    def walk(service: str, prefix: str, seen: tuple[str, ...]) -> None:
        deps = sorted(graph.dependencies(service), key=lambda e: e.dependency)
        for i, edge in enumerate(deps):
            last = i == len(deps) - 1
            branch, indent = ("└── ", "    ") if last else ("├── ", "│   ")
            lines.append(f"{prefix}{branch}{edge.dependency} ({_label(edge)})")
            if edge.dependency not in seen:
                walk(edge.dependency, prefix + indent, (*seen, edge.dependency))

    for root in roots:
        lines.append(root)
        walk(root, "", (root,))
    return "\n".join(lines) + "\n" if lines else ""


def _node_id(name: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in name)


def render_mermaid(graph: ServiceGraph, _name: str = "") -> str:
    """A Mermaid flowchart; arrows point from a service to what it depends on."""
    lines = ["flowchart TD"]
    lines += [f'    {_node_id(s)}["{s}"]' for s in graph.services]
    lines += [
        f"    {_node_id(e.service)} -->|{_label(e)}| {_node_id(e.dependency)}" for e in graph.edges
    ]
    return "\n".join(lines) + "\n"


def render_dot(graph: ServiceGraph, name: str = "compose") -> str:
    """A Graphviz digraph; arrows point from a service to what it depends on."""
    lines = [f'digraph "{name}" {{', "    rankdir=LR;"]
    lines += [f'    "{s}";' for s in graph.services]
    lines += [f'    "{e.service}" -> "{e.dependency}" [label="{_label(e)}"];' for e in graph.edges]
    lines.append("}")
    return "\n".join(lines) + "\n"
