"""What image a service runs, and how its ``build:`` section becomes an engine BuildSpec.

Shared by the orchestrator (``up``, ``run``) and the image commands (``build``, ``images``).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from compose.config.model import Project, Service, ServiceFileRef
    from engine.images import BuildSecret, BuildSpec


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
    network = b.network or "default"
    if network not in BUILD_NETWORKS:
        raise ComposeError(f'service "{service.name}": build.network {network!r}: a build '
                           "runs on default (a NATed network of its own), none or host")
    args = {**dict(b.args), **(extra_args or {})}
    tags = (image_name(project, service),) + tuple(b.tags)
    return BuildSpec(context=Path(b.context), dockerfile=b.dockerfile or "Dockerfile",
                     dockerfile_inline=b.dockerfile_inline,
                     args=tuple(args.items()), target=b.target,
                     labels=tuple(dict(b.labels).items()), network=network, tags=tags,
                     no_cache=no_cache or b.no_cache, pull=pull or b.pull,
                     secrets=tuple(_secret(project, service, ref) for ref in b.secrets),
                     additional_contexts=tuple(
                         (name, _named_context(project, service, value))
                         for name, value in b.additional_contexts.items()),
                     cache_from=tuple(b.cache_from),
                     extra_hosts=tuple((h, ip) for h, ips in b.extra_hosts.items()
                                       for ip in ips),
                     shm_size=b.shm_size,
                     ulimits=tuple((n, u.soft, u.hard) for n, u in b.ulimits.items()),
                     privileged=bool(b.raw.get("privileged")),
                     entitlements=tuple(str(e) for e in b.raw.get("entitlements") or ()))


BUILD_NETWORKS = ("default", "none", "host")


def _secret(project: Project, service: Service, ref: ServiceFileRef) -> BuildSecret:
    """A build secret: its id is the reference's target, else the secret's name (like
    docker compose); its content comes from the secret's file or environment variable."""
    from compose.errors import ComposeError
    from engine.images import BuildSecret

    obj = project.secrets.get(ref.source)
    if obj is None:
        raise ComposeError(f'service "{service.name}": build.secrets refers to undefined '
                           f"secret {ref.source}")
    sid = ref.target or ref.source
    if obj.file is not None:
        return BuildSecret(sid, file=Path(obj.file))
    if obj.environment is not None:
        return BuildSecret(sid, env=obj.environment)
    raise ComposeError(f'service "{service.name}": build secret {ref.source} needs file or '
                       "environment (external and content secrets cannot be given to a build)")


def _named_context(project: Project, service: Service, value: str) -> str:
    """``service:NAME`` → the image that service builds; a relative path → under the context."""
    if value.startswith("service:"):
        other = project.services[value.split(":", 1)[1]]
        return "docker-image://" + image_name(project, other)
    if "://" in value:
        if not value.startswith("docker-image://"):
            from compose.errors import ComposeError

            raise ComposeError(f'service "{service.name}": build.additional_contexts {value!r}:'
                               " only local directories, docker-image:// and service: are "
                               "supported")
        return value
    assert service.build is not None
    return str(Path(service.build.context) / value)
