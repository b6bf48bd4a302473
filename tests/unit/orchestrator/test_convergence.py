"""Convergence planning: pure (desired, observed) → plan."""
from __future__ import annotations

from compose.orchestrator.convergence import (
    Action,
    DesiredService,
    ObservedContainer,
    RecreatePolicy,
    plan_convergence,
)
from compose.orchestrator.labels import config_hash


def c(service: str, n: int, h: str = "h1", running: bool = True, **kw: object) -> ObservedContainer:
    return ObservedContainer(f"id-{service}-{n}", f"p-{service}-{n}", service, n, h, running,
                             **kw)  # type: ignore[arg-type]


def actions(plan, service: str) -> list[tuple[Action, int]]:  # type: ignore[no-untyped-def]
    return [(s.action, s.number) for s in plan.steps if s.service == service]


def test_fresh_project_creates_everything() -> None:
    plan = plan_convergence([DesiredService("web", "h1", scale=2), DesiredService("db", "h2")], [])
    assert actions(plan, "web") == [(Action.CREATE, 1), (Action.CREATE, 2)]
    assert actions(plan, "db") == [(Action.CREATE, 1)]


def test_second_up_changes_nothing() -> None:
    plan = plan_convergence([DesiredService("web", "h1")], [c("web", 1)])
    assert plan.changes() == ()


def test_stopped_container_is_started() -> None:
    plan = plan_convergence([DesiredService("web", "h1")], [c("web", 1, running=False)])
    assert actions(plan, "web") == [(Action.START, 1)]


def test_changed_config_recreates_only_that_service() -> None:
    plan = plan_convergence([DesiredService("web", "NEW"), DesiredService("db", "h1")],
                            [c("web", 1), c("db", 1)])
    assert actions(plan, "web") == [(Action.RECREATE, 1)]
    assert actions(plan, "db") == [(Action.NOOP, 1)]
    assert plan.for_service("web")[0].reason == "config changed"


def test_image_change_recreates() -> None:
    plan = plan_convergence([DesiredService("web", "h1", image_id="sha256:b")],
                            [c("web", 1, image_id="sha256:a")])
    assert actions(plan, "web") == [(Action.RECREATE, 1)]


def test_restart_true_dependents_are_restarted_and_references_recreated() -> None:
    desired = [DesiredService("db", "NEW"),
               DesiredService("api", "h1", restart_on=("db",)),
               DesiredService("sidecar", "h1", references=("db",)),
               DesiredService("web", "h1")]
    observed = [c("db", 1), c("api", 1), c("sidecar", 1), c("web", 1)]
    plan = plan_convergence(desired, observed)
    assert actions(plan, "api") == [(Action.RESTART, 1)]
    assert actions(plan, "sidecar") == [(Action.RECREATE, 1)]
    assert actions(plan, "web") == [(Action.NOOP, 1)]


def test_no_recreate_and_force_recreate() -> None:
    observed = [c("web", 1)]
    assert actions(plan_convergence([DesiredService("web", "NEW")], observed,
                                    recreate=RecreatePolicy.NEVER), "web") == [(Action.NOOP, 1)]
    assert actions(plan_convergence([DesiredService("web", "h1")], observed,
                                    recreate=RecreatePolicy.FORCE), "web") == [(Action.RECREATE, 1)]


def test_scale_down_removes_obsolete_then_highest() -> None:
    observed = [c("web", 1), c("web", 2, h="OLD"), c("web", 3)]
    plan = plan_convergence([DesiredService("web", "h1", scale=1)], observed)
    assert actions(plan, "web") == [(Action.REMOVE, 2), (Action.REMOVE, 3), (Action.NOOP, 1)]


def test_scale_up_uses_next_numbers() -> None:
    plan = plan_convergence([DesiredService("web", "h1", scale=3)], [c("web", 2)])
    assert actions(plan, "web") == [(Action.NOOP, 2), (Action.CREATE, 3), (Action.CREATE, 4)]


def test_orphans_reported_and_removed_on_request() -> None:
    observed = [c("web", 1), c("old", 1), c("web", 9, oneoff=True)]
    plan = plan_convergence([DesiredService("web", "h1")], observed)
    assert [o.service for o in plan.orphans] == ["old"]
    assert all(s.service != "old" for s in plan.steps)
    plan = plan_convergence([DesiredService("web", "h1")], observed, remove_orphans=True)
    assert actions(plan, "old") == [(Action.REMOVE, 1)]
    assert plan.for_service("old") == ()  # orphans are removed apart from the services


def test_exited_one_off_containers_are_orphans_like_docker_compose() -> None:
    observed = [c("web", 1), c("web", 1, running=False, oneoff=True, state="exited"),
                c("job", 1, oneoff=True, state="running"),
                c("job", 2, running=False, oneoff=True, state="created")]
    plan = plan_convergence([DesiredService("web", "h1")], observed, known=["job"])
    assert [(o.service, o.state) for o in plan.orphans] == [("web", "exited")]
    assert actions(plan, "web") == [(Action.NOOP, 1)]
    plan = plan_convergence([DesiredService("web", "h1")], observed, remove_orphans=True,
                            known=["job"])
    assert [s.reason for s in plan.steps if s.action is Action.REMOVE] == ["orphan"]
    assert plan.for_service("web") == (plan.steps[0],)  # the one-off is not the service's


def test_known_services_are_neither_planned_nor_orphans() -> None:
    # `--profile job up`: `debug` is in the file under a profile not enabled (docker/compose#8432)
    observed = [c("web", 1), c("debug", 1), c("old", 1)]
    plan = plan_convergence([DesiredService("web", "h1")], observed, remove_orphans=True,
                            known=["web", "debug"])
    assert [o.service for o in plan.orphans] == ["old"]
    assert actions(plan, "debug") == []
    assert actions(plan, "old") == [(Action.REMOVE, 1)]


def test_config_hash_ignores_scale_and_replicas_but_not_command() -> None:
    base = {"image": "busybox", "command": ["sleep", "1"], "deploy": {"replicas": 1}}
    assert config_hash(base) == config_hash({**base, "scale": 4, "deploy": {"replicas": 3}})
    assert config_hash(base) != config_hash({**base, "command": ["sleep", "2"]})
    assert len(config_hash(base)) == 64
