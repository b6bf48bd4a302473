"""``pycompose deploy`` / ``undeploy``: the project on an existing Kubernetes cluster."""
from __future__ import annotations

from typing import Annotated

import typer

from compose.cli import terminal

KUBECONFIG = typer.Option("--kubeconfig", metavar="FILE",
                          help="kubeconfig to use (default: $KUBECONFIG, ~/.kube/config).")
NAMESPACE = typer.Option("-n", "--namespace", metavar="NS",
                         help="Namespace (default: the context's, else default).")
CONTEXT = typer.Option("--context", metavar="NAME", help="kubeconfig context to use.")


def register(app: typer.Typer) -> None:
    """Add ``deploy`` and ``undeploy`` to ``app``."""
    app.command("deploy", help="Convert the project to Kubernetes objects, apply them "
                "(server-side) and wait for them in dependency order.")(deploy_command)
    app.command("undeploy", help="Remove every Kubernetes object deploy applied for the "
                "project.")(undeploy_command)


def _report(what: str, status: str) -> None:
    terminal.line(f" {what}  {status}")


def deploy_command(
    ctx: typer.Context,
    kubeconfig: Annotated[str | None, KUBECONFIG] = None,
    namespace: Annotated[str | None, NAMESPACE] = None,
    kube_context: Annotated[str | None, CONTEXT] = None,
    allow_lossy: Annotated[bool, typer.Option(
        "--allow-lossy", help="Warn instead of failing on what Kubernetes cannot express.")]
    = False,
    push: Annotated[bool, typer.Option(
        "--push", help="Build and push the images first; run them by digest.")] = False,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="Wait for every workload in dependency order.")] = True,
    timeout: Annotated[float, typer.Option(
        "--timeout", metavar="SECONDS", help="How long --wait waits in all.")] = 300,
) -> None:
    """Apply the converted project and wait for it like ``up --wait``."""
    from compose.graph import build_graph
    from compose.k8s import ConvertOptions, convert_project
    from compose.k8s.deploy import WORKLOADS, Cluster, apply_objects, wait_ready
    from compose.k8s.release import build_and_push

    project = ctx.obj.load_project()
    images = build_and_push(project) if push else {}
    objects, warnings = convert_project(project, ConvertOptions(allow_lossy=allow_lossy,
                                                                images=images))
    for text in warnings:
        terminal.warn(text)
    cluster = Cluster.connect(kubeconfig, namespace, kube_context)
    apply_objects(cluster, objects, _report)
    if not wait:
        return
    workloads = {o["metadata"]["labels"].get("com.docker.compose.service"):
                 (o["kind"], o["metadata"]["name"]) for o in objects if o["kind"] in WORKLOADS}
    order = [workloads[s] for s in build_graph(project).start_order() if s in workloads]
    wait_ready(cluster, order, _report, timeout)


def undeploy_command(
    ctx: typer.Context,
    kubeconfig: Annotated[str | None, KUBECONFIG] = None,
    namespace: Annotated[str | None, NAMESPACE] = None,
    kube_context: Annotated[str | None, CONTEXT] = None,
) -> None:
    """Delete exactly the objects deploy made for this project (found by their labels)."""
    from compose.k8s.deploy import Cluster, delete_objects

    project = ctx.obj.load_project()
    cluster = Cluster.connect(kubeconfig, namespace, kube_context)
    if delete_objects(cluster, project.name, _report) == 0:
        terminal.warn(f"nothing of project {project.name} in namespace {cluster.namespace}")
