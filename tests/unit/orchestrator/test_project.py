"""Model ↔ planner glue: dependency closure, executor nodes, labels, health prerequisites."""
from __future__ import annotations

import pytest

from compose.config.model import DependsOn, Healthcheck, Project, Service
from compose.errors import ComposeError
from compose.orchestrator import labels as L
from compose.orchestrator.backend import ContainerRef
from compose.orchestrator.executor import Condition, Dependency, Node
from compose.orchestrator.project import (
    container_labels,
    desired,
    nodes,
    observed,
    with_dependencies,
    without_healthcheck,
)
from engine.images.model import Healthcheck as ImageHealthcheck


def project() -> Project:
    return Project("p", "/w", {
        "db": Service("db", image="x", raw={"image": "x"}),
        "cache": Service("cache", image="x", raw={"image": "x"}),
        "api": Service("api", image="x", raw={"image": "x", "command": ["a"]},
                       depends_on={"db": DependsOn("service_healthy", restart=True)},
                       links=("cache",)),
        "side": Service("side", image="x", raw={"image": "x"}, network_mode="service:api",
                        scale=2),
    }, compose_files=("/w/compose.yaml",))


def test_dependency_closure_in_project_order() -> None:
    assert with_dependencies(project(), ["side"]) == ["db", "cache", "api", "side"]
    with pytest.raises(ComposeError, match="no such service: nope"):
        with_dependencies(project(), ["nope"])


def test_nodes_keep_conditions_and_drop_outside_deps() -> None:
    ns = {n.name: n for n in nodes(project(), ["db", "cache", "api", "side"])}
    assert ns["api"] == Node("api", (Dependency("db", Condition.HEALTHY, True, True),
                                     Dependency("cache")))
    assert ns["side"] == Node("side", (Dependency("api"),))
    assert nodes(project(), ["api"]) == [Node("api")]  # --no-deps


def test_desired_references_restart_and_scale() -> None:
    d = {x.name: x for x in desired(project(), ["api", "side"], {"api": "sha256:1"},
                                     {"api": 3})}
    assert d["api"].restart_on == ("db",) and d["api"].scale == 3
    assert d["api"].image_id == "sha256:1"
    assert d["side"].references == ("api",) and d["side"].scale == 2
    assert d["api"].config_hash == L.config_hash({"image": "x", "command": ["a"]})


def test_labels_roundtrip_through_observed() -> None:
    p = project()
    lab = container_labels(p, p.services["api"], 2, "sha256:1")
    assert lab[L.DEPENDS_ON] == "db:service_healthy:true"
    assert lab[L.CONFIG_FILES] == "/w/compose.yaml" and lab[L.ONEOFF] == "False"
    obs = observed([ContainerRef("id1", "p-api-2", "exited", lab),
                    ContainerRef("id2", "other", "running", {})])
    assert len(obs) == 1
    o = obs[0]
    assert (o.service, o.number, o.running, o.image_id, o.oneoff) == (
        "api", 2, False, "sha256:1", False)


def test_service_healthy_needs_a_healthcheck_service_or_image() -> None:
    p = project()
    assert without_healthcheck(p, ["api"], {}) == {"db"}
    assert without_healthcheck(p, ["api"], {"db": ImageHealthcheck(test=("CMD", "true"))}
                               ) == set()
    svc_hc = Project("p", "/w", {**p.services, "db": Service(
        "db", image="x", healthcheck=Healthcheck(test=("CMD", "true")))})
    assert without_healthcheck(svc_hc, ["api"], {}) == set()


def test_container_names_must_be_unique_among_the_selected_services() -> None:
    from compose.orchestrator.project import check_container_names

    p = Project("p", "/w", {
        "a": Service("a", image="x", container_name="fixed"),
        "b": Service("b", image="x", container_name="fixed"),
        "c": Service("c", image="x")})
    with pytest.raises(ComposeError, match='services.b: container name "fixed" is already in '
                                           "use by service a"):
        check_container_names(p, ["a", "b", "c"])
    check_container_names(p, ["a", "c"])  # `up a`: b is not part of it


def test_a_service_hash_follows_the_names_of_its_non_default_volumes() -> None:
    """docker compose's TestUpSwitchVolumes: switching an external volume's name recreates
    the container; a default-named volume leaves the plain config hash alone."""
    from compose.config.model import Volume, VolumeMount

    def with_volume(name: str) -> Project:
        svc = Service("app", image="x", raw={"image": "x", "volumes": ["v:/v"]},
                      volumes=(VolumeMount("volume", "/v", source="v"),))
        return Project("p", "/w", {"app": svc}, volumes={"v": Volume("v", name)})

    one, two, default = with_volume("ext-1"), with_volume("ext-2"), with_volume("p_v")
    hashes = [L.service_hash(p, p.services["app"]) for p in (one, two, default)]
    assert hashes[0] != hashes[1]
    assert hashes[2] == L.config_hash(default.services["app"].raw)
    assert container_labels(one, one.services["app"], 1, "sha256:i")[L.CONFIG_HASH] == hashes[0]
