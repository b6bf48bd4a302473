"""What image a service runs, and how its ``build:`` section becomes an engine BuildSpec.

Shared by the orchestrator (``up``, ``run``) and the image commands (``build``, ``images``).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compose.config.model import Project, Service
    from engine.images import BuildSpec


def image_name(project: Project, service: Service) -> str:
    """The image a service runs: its ``image:``, else ``<project>-<service>`` like compose v2."""
    return service.image or f"{project.name}-{service.name}"


def build_spec(project: Project, service: Service, *, no_cache: bool = False,
               pull: bool = False, extra_args: dict[str, str] | None = None) -> BuildSpec:
    """Turn a service's ``build:`` section into an engine BuildSpec."""
    from compose.errors import ComposeError
    from engine.images import BuildSpec

    b = service.build
    if b is None:
        raise ComposeError(f"service {service.name!r} has no build section")
    if "://" in b.context or b.context.startswith("git@"):
        raise ComposeError(f"service {service.name!r}: remote build contexts ({b.context}) "
                           "are not supported (no network)")
    args = {**dict(b.args), **(extra_args or {})}
    network = b.network if b.network in ("host", "none") else "default"
    tags = (image_name(project, service),) + tuple(b.tags)
    return BuildSpec(context=Path(b.context), dockerfile=b.dockerfile or "Dockerfile",
                     dockerfile_inline=b.dockerfile_inline,
                     args=tuple(args.items()), target=b.target,
                     labels=tuple(dict(b.labels).items()), network=network, tags=tags,
                     no_cache=no_cache or b.no_cache, pull=pull or b.pull,
                     secrets=build_secrets(project, service))


def build_secrets(project: Project, service: Service) -> tuple[tuple[str, bytes], ...]:
    """``build.secrets``: (id for ``RUN --mount=type=secret,id=...``, content) pairs; the id is
    the entry's ``target``, else the secret's name in the file, as docker compose does."""
    import os

    from compose.errors import ComposeError

    assert service.build is not None
    out = []
    for ref in service.build.secrets:
        obj = project.secrets.get(ref.source)
        if obj is None or obj.external:
            raise ComposeError(f"service {service.name!r}: build secret {ref.source!r} is "
                               "not defined (or external)",
                               key_path=f"services.{service.name}.build.secrets")
        if obj.file is not None:
            try:
                data = Path(obj.file).read_bytes()
            except OSError as exc:
                raise ComposeError(f"service {service.name!r}: build secret {ref.source!r}: "
                                   f"cannot read {obj.file}: {exc.strerror}") from None
        elif obj.environment is not None:
            value = project.environment.get(obj.environment, os.environ.get(obj.environment))
            data = (value or "").encode()
        else:
            data = (obj.content or "").encode()
        out.append((ref.target or ref.source, data))
    return tuple(out)
