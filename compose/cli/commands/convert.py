"""``pycompose convert``: docker compose's alias of ``config``; with ``--to kubernetes`` the
project as Kubernetes manifests (one YAML stream, or a file per object with ``-o DIR``,
optionally with a ``kustomization.yaml``)."""
from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from compose.cli import terminal
from compose.cli.commands.config import config_command


def register(app: typer.Typer) -> None:
    """Add the ``convert`` command to ``app``."""
    app.command("convert", help="Converts the compose file to the platform's canonical format "
                "(--to kubernetes: Kubernetes manifests).")(convert_command)


_K8S_ONLY = ("allow_lossy", "kustomize", "push", "namespace")


def convert_command(ctx: typer.Context, **kw: Any) -> None:
    """``config`` unless ``--to`` is given; the Kubernetes options need ``--to kubernetes``."""
    to = kw.pop("to")
    k8s = {name: kw.pop(name) for name in _K8S_ONLY}
    if to is None:
        given = [f"--{n.replace('_', '-')}" for n, v in k8s.items() if v not in (None, False)]
        if given:
            from compose.errors import ComposeError

            raise ComposeError(f"{given[0]} needs --to kubernetes")
        config_command(ctx, **kw)
        return
    if to != "kubernetes":
        from compose.errors import ComposeError

        raise ComposeError(f"--to {to}: the only target is kubernetes")
    _to_kubernetes(ctx, kw.get("services_args"), kw.get("output"), **k8s)


def _to_kubernetes(ctx: typer.Context, services: list[str] | None, output: str | None,
                   allow_lossy: bool, kustomize: bool, push: bool, namespace: str | None) -> None:
    from compose.k8s import ConvertOptions, convert_project
    from compose.k8s.output import write_manifests
    from compose.k8s.release import build_and_push

    project = ctx.obj.load_project(services=tuple(services or ()))
    images = build_and_push(project) if push else {}
    objects, warnings = convert_project(project, ConvertOptions(
        allow_lossy=allow_lossy, namespace=namespace, images=images))
    for text in warnings:
        terminal.warn(text)
    write_manifests(objects, output, kustomize=kustomize)


def _signature() -> tuple[inspect.Signature, dict[str, Any]]:
    """config's parameters plus the Kubernetes ones (one definition of config's flags)."""
    base = inspect.signature(config_command, eval_str=True)
    extra = {
        "to": Annotated[str | None, typer.Option("--to", metavar="PLATFORM",
                                                 help="Convert for this platform: kubernetes.")],
        "allow_lossy": Annotated[bool, typer.Option(
            "--allow-lossy", help="Warn (once per key) instead of failing on what Kubernetes "
            "cannot express.")],
        "kustomize": Annotated[bool, typer.Option(
            "--kustomize", help="With -o DIR, also write a kustomization.yaml.")],
        "push": Annotated[bool, typer.Option(
            "--push", help="Build the services' images, push them, and name them by digest.")],
        "namespace": Annotated[str | None, typer.Option(
            "--namespace", metavar="NS", help="Put every object in this namespace.")],
    }
    defaults = {"to": None, "allow_lossy": False, "kustomize": False, "push": False,
                "namespace": None}
    params = list(base.parameters.values()) + [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=defaults[name],
                          annotation=ann) for name, ann in extra.items()]
    annotations = {p.name: p.annotation for p in params}
    return base.replace(parameters=params), annotations


convert_command.__signature__, convert_command.__annotations__ = _signature()  # type: ignore[attr-defined]
