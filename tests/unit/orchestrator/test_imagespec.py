"""``build:`` → engine BuildSpec, and the order images are made in when builds use other
services' images (``additional_contexts: service:NAME``)."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.config.model import BuildConfig, FileObject, Project, Service, ServiceFileRef, Ulimit
from compose.errors import ComposeError
from compose.orchestrator.imagespec import build_spec
from compose.orchestrator.prepare import image_groups, image_waves, with_build_inputs
from engine.images import BuildSecret


def _project(**builds: BuildConfig) -> Project:
    services = {name: Service(name, build=b, raw={"build": {}}) for name, b in builds.items()}
    secrets = {"tok": FileObject("tok", "p_tok", file="/s/tok.txt"),
               "envtok": FileObject("envtok", "p_envtok", environment="TOKEN"),
               "inline": FileObject("inline", "p_inline", content="x")}
    return Project("p", "/w", services, secrets=secrets, environment={"TOKEN": "from-env"})


def test_every_build_key_reaches_the_builder() -> None:
    b = BuildConfig(context="/w/app", network=None, cache_from=("app:cache",),
                    additional_contexts={"base": "service:base", "notes": "extra",
                                         "img": "docker-image://alpine:3"},
                    secrets=(ServiceFileRef("tok"), ServiceFileRef("envtok", target="t2")),
                    extra_hosts={"h": ("10.0.0.1",)}, shm_size=1 << 20,
                    ulimits={"nofile": Ulimit(10, 20)}, no_cache=True,
                    raw={"privileged": True, "entitlements": ["network.host"]})
    project = _project(app=b, base=BuildConfig(context="/w/base"))
    spec = build_spec(project, project.services["app"])
    assert spec.network == "default"
    assert spec.secrets == (BuildSecret("tok", file=Path("/s/tok.txt")),
                            BuildSecret("t2", content=b"from-env"))
    assert dict(spec.additional_contexts) == {"base": "docker-image://p-base",
                                              "notes": "/w/app/extra",
                                              "img": "docker-image://alpine:3"}
    assert spec.cache_from == ("app:cache",) and spec.no_cache
    assert spec.extra_hosts == (("h", "10.0.0.1"),) and spec.shm_size == 1 << 20
    assert spec.ulimits == (("nofile", 10, 20),)
    assert spec.privileged and spec.entitlements == ("network.host",)


@pytest.mark.parametrize(("build", "message"), [
    (BuildConfig(context="/w", network="mynet"), "build.network 'mynet'"),
    (BuildConfig(context="/w", secrets=(ServiceFileRef("nope"),)), "secret nope"),
    (BuildConfig(context="/w", additional_contexts={"x": "https://example.com/x.git"}),
     "only local directories"),
])
def test_what_a_build_cannot_use_is_an_error_naming_the_service(build: BuildConfig,
                                                               message: str) -> None:
    project = _project(app=build)
    with pytest.raises(ComposeError, match=message) as info:
        build_spec(project, project.services["app"])
    assert 'service "app"' in str(info.value)


def test_builds_that_use_other_images_come_after_them() -> None:
    project = _project(
        app=BuildConfig(context="/w", additional_contexts={"b": "service:mid"}),
        mid=BuildConfig(context="/w", additional_contexts={"b": "service:base"}),
        base=BuildConfig(context="/w"), other=BuildConfig(context="/w"))
    names = with_build_inputs(project, ["app", "other"])
    assert names == ["base", "mid", "app", "other"]
    waves = image_waves(project, image_groups(project, names))
    assert waves == [[["base"], ["other"]], [["mid"]], [["app"]]]


def test_inline_build_secret_is_its_content() -> None:
    project = _project(app=BuildConfig(context="/w", secrets=(ServiceFileRef("inline"),)))
    assert build_spec(project, project.services["app"]).secrets == (
        BuildSecret("inline", content=b"x"),)


def test_an_environment_secret_reads_the_project_environment() -> None:
    from compose.orchestrator.engine_backend import _content

    project = Project("p", "/w", {}, environment={"TOKEN": "from-dotenv"})
    ref = ServiceFileRef(source="tok")
    assert _content(project, FileObject("tok", "p_tok", environment="TOKEN"), ref,
                    "secret") == b"from-dotenv"
    with pytest.raises(ComposeError, match='variable "NOPE" required by secret "tok"'):
        _content(project, FileObject("tok", "p_tok", environment="NOPE"), ref, "secret")


def test_a_built_dependency_is_built_in_an_earlier_wave() -> None:
    """docker compose's TestBuildImageDependencies: ``service`` builds ``FROM base`` and
    depends on base, which is built too; a pulled dependency does not hold a build back."""
    from compose.config.model import DependsOn

    ctx = BuildConfig(context="/w")
    services = {
        "base": Service("base", image="base", build=ctx, raw={}),
        "service": Service("service", build=ctx, raw={}, depends_on={"base": DependsOn()}),
        "db": Service("db", image="db", raw={}),
        "api": Service("api", build=ctx, raw={}, depends_on={"db": DependsOn()}),
    }
    project = Project("p", "/w", services)
    waves = image_waves(project, image_groups(project, list(services)))
    assert [sorted(g[0] for g in wave) for wave in waves] == [["api", "base", "db"],
                                                               ["service"]]
