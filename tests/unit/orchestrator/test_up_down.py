"""up/down walks with a fake backend and a real (in-thread) supervisor over its socket."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose.config.model import DependsOn, Healthcheck, Network, Project, Service, Volume
from compose.orchestrator import client, state
from compose.orchestrator.convergence import RecreatePolicy
from compose.orchestrator.down import DownOptions, run_down
from compose.orchestrator.executor import Outcome, critical_path
from compose.orchestrator.up import Up, UpOptions
from tests.unit.orchestrator.fakes import FakeBackend, FakeOps, serve_in_thread


def svc(name: str, **kw: object) -> Service:
    raw = {"image": "busybox", **{k: str(v) for k, v in kw.items()}}
    return Service(name, image="busybox", raw=raw, **kw)  # type: ignore[arg-type]


def stack(**overrides: Service) -> Project:
    hc = Healthcheck(test=("CMD", "ready"), interval=0.01)
    services = {
        "db": svc("db", healthcheck=hc),
        "migrate": svc("migrate", depends_on={"db": DependsOn("service_healthy")}),
        "api": svc("api", depends_on={"db": DependsOn("service_healthy"),
                                      "migrate": DependsOn("service_completed_successfully")}),
        "web": svc("web", depends_on={"api": DependsOn()}),
    }
    services.update(overrides)
    return Project("proj", "/tmp", services,
                   networks={"default": Network("default", "proj_default")},
                   volumes={"data": Volume("data", "proj_data"),
                            "ext": Volume("ext", "shared", external=True)})


@pytest.fixture
def env(state_root: Path) -> Iterator[tuple[FakeOps, FakeBackend]]:
    ops = FakeOps()
    t = serve_in_thread(ops)
    backend = FakeBackend(ops)
    backend.exit_on_start["migrate"] = 0
    yield ops, backend
    client.stop_supervisor("proj")
    t.join(5)


def starts(backend: FakeBackend) -> list[str]:
    return [obj for what, obj in backend.calls if what == "start"]


def test_up_starts_in_dependency_order(env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    result = Up(stack(), backend, UpOptions(wait_timeout=10)).run()
    assert starts(backend) == ["proj-db-1", "proj-migrate-1", "proj-api-1", "proj-web-1"]
    assert result.failures() == []
    assert critical_path(result.runs) == ["db", "migrate", "api", "web"]
    assert ("network", "proj_default") in backend.calls
    rows = state.for_project("proj")
    assert {r.service for r in rows} == {"db", "migrate", "api", "web"}


def test_failing_migrate_blocks_api_and_web(env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    backend.exit_on_start["migrate"] = 1
    result = Up(stack(), backend, UpOptions(wait_timeout=10)).run()
    assert starts(backend) == ["proj-db-1", "proj-migrate-1"]
    assert result.runs["api"].outcome is Outcome.BLOCKED
    reason = 'service "migrate" didn\'t complete successfully: exit 1'
    assert result.runs["api"].reason == reason
    assert any(reason in f for f in result.failures())


def test_unhealthy_db_reason_carries_probe_output(env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    # (failing for the whole run: a script that ran out would turn it healthy 10 ms later,
    # and an up that looked only then would see a healthy db)
    ops.probe_results = [(1, "db: connection refused")] * 2000
    result = Up(stack(), backend, UpOptions(wait_timeout=10)).run()
    assert starts(backend) == ["proj-db-1"]
    assert result.runs["migrate"].reason == (  # docker names the container
        "dependency failed to start: container proj-db-1 is unhealthy: db: connection refused")


def test_second_up_changes_nothing_and_changed_service_is_recreated(
        env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    Up(stack(), backend, UpOptions(wait_timeout=10)).run()
    backend.calls.clear()
    again = Up(stack(), backend, UpOptions(wait_timeout=10)).run()
    # migrate exited (a one-shot): docker compose starts it again; nothing else changes
    assert [c for c in backend.calls if c[0] not in ("image", "network")] == [
        ("prepare-starts", "sandboxes"), ("start", "proj-migrate-1"), ("helpers-settled", "")]
    assert again.failures() == []
    backend.calls.clear()
    changed = stack(web=svc("web", depends_on={"api": DependsOn()}, command=("serve", "2")))
    Up(changed, backend, UpOptions(wait_timeout=10)).run()
    assert [c for c in backend.calls if c[0] in ("create", "rm")] == [
        ("rm", "proj-web-1"), ("create", "proj-web-1")]


def test_engine_helpers_are_warmed_only_when_something_will_start(
        env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    del backend.exit_on_start["migrate"]  # a long-running migrate: all four keep running
    project = stack(migrate=svc("migrate"), api=svc("api"))
    Up(project, backend, UpOptions(wait_timeout=10)).run()
    calls = [c[0] for c in backend.calls]
    assert calls.count("prepare-starts") == 1
    assert calls.index("prepare-starts") < calls.index("create")
    assert calls[-1] == "helpers-settled"  # nothing is left starting when up returns
    backend.calls.clear()
    Up(project, backend, UpOptions(wait_timeout=10)).run()  # everything runs already
    assert "prepare-starts" not in [c[0] for c in backend.calls]
    run_down(project, "proj", backend, DownOptions())
    backend.calls.clear()
    Up(project, backend, UpOptions(no_start=True)).run()
    assert "prepare-starts" not in [c[0] for c in backend.calls]
    assert "create" in [c[0] for c in backend.calls]


def test_no_dns_daemon_is_warmed_for_services_without_their_own_netns(
        env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    project = Project("proj", "/tmp", {"web": svc("web", network_mode="host")})
    Up(project, backend, UpOptions(wait_timeout=10)).run()
    assert ("prepare-starts", "") in backend.calls


def test_service_healthy_without_healthcheck_fails_once_it_runs(
        env: tuple[FakeOps, FakeBackend]) -> None:
    """Like docker compose: the dependency starts, then its dependents fail ("has no
    healthcheck configured"); a ``required: false`` one only warns and lets them start."""
    import dataclasses

    ops, backend = env
    bad = stack(db=svc("db"))
    result = Up(bad, backend, UpOptions(wait_timeout=10)).run()
    assert starts(backend) == ["proj-db-1"]
    assert result.runs["migrate"].reason == (
        "dependency failed to start: container proj-db-1 has no healthcheck configured")
    spec = dataclasses.replace(bad.services["migrate"].depends_on["db"], required=False)
    optional = stack(db=svc("db"), migrate=dataclasses.replace(
        bad.services["migrate"], depends_on={"db": spec}))
    result = Up(optional, backend, UpOptions(wait_timeout=10)).run()
    assert result.runs["migrate"].outcome is Outcome.DONE  # api still needs db healthy
    assert result.runs["migrate"].warnings == [
        'optional dependency "db" failed to start: container proj-db-1 has no healthcheck '
        "configured"]


def test_down_removes_everything_but_external(env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    Up(stack(), backend, UpOptions(wait_timeout=10, recreate=RecreatePolicy.DIVERGED)).run()
    backend.volumes |= {"proj_data", "shared"}
    backend.calls.clear()
    failures = run_down(stack(), "proj", backend, DownOptions(volumes=True))
    assert failures == []
    stops = [obj for what, obj in backend.calls if what == "stop"]
    assert stops.index("proj-web-1") < stops.index("proj-api-1") < stops.index("proj-db-1")
    for name in stops:  # each removed after its own stop
        assert backend.calls.index(("stop", name)) < backend.calls.index(("rm", name))
    assert sorted(backend.names_kept) == sorted(stops)  # (names go with each sandbox)
    assert backend.containers == {} and backend.networks == set()
    assert backend.volumes == {"shared"}
    assert state.for_project("proj") == []
    # nothing of the project remains: the engine's helper processes are told to go
    assert getattr(backend, "idle_helpers_stopped", 0) == 1


def test_down_stops_a_dependency_while_its_dependents_are_still_being_removed(
        env: tuple[FakeOps, FakeBackend], monkeypatch: pytest.MonkeyPatch) -> None:
    """The order binds the stops (dependents first); removing a stopped container is off that
    path, and ``down`` returns once every removal has ended."""
    ops, backend = env
    Up(stack(), backend, UpOptions(wait_timeout=10)).run()
    db_stopped = threading.Event()
    stop, remove = backend.stop_container, backend.remove_container

    def stop_then_tell(cid: str, timeout: float | None, **kw: bool) -> None:
        name = backend.containers[cid]["name"]
        stop(cid, timeout, **kw)
        if name == "proj-db-1":
            db_stopped.set()

    def remove_web_once_db_stopped(cid: str) -> None:
        if backend.containers[cid]["name"] == "proj-web-1" and not db_stopped.wait(5):
            raise AssertionError("db waited for web's removal")
        remove(cid)

    monkeypatch.setattr(backend, "stop_container", stop_then_tell)
    monkeypatch.setattr(backend, "remove_container", remove_web_once_db_stopped)
    assert run_down(stack(), "proj", backend, DownOptions()) == []
    assert backend.containers == {} and backend.networks == set()
    assert backend.removal_flushes == 1  # the veths left go beside the networks' removal


def test_down_reports_a_failed_removal_and_goes_on(env: tuple[FakeOps, FakeBackend],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ops, backend = env
    Up(stack(), backend, UpOptions(wait_timeout=10)).run()
    remove = backend.remove_container

    def fail_for_api(cid: str) -> None:
        if backend.containers[cid]["name"] == "proj-api-1":
            raise RuntimeError("device busy")
        remove(cid)

    monkeypatch.setattr(backend, "remove_container", fail_for_api)
    failures = run_down(stack(), "proj", backend, DownOptions())
    assert failures == ["api failed: device busy"]
    assert [c["name"] for c in backend.containers.values()] == ["proj-api-1"]


def test_recreated_dependency_restarts_restart_true_dependents(
        env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    base = stack(api=svc("api", depends_on={"db": DependsOn("service_healthy", restart=True)}))
    Up(base, backend, UpOptions(wait_timeout=10)).run()
    backend.calls.clear()
    hc = Healthcheck(test=("CMD", "ready"), interval=0.01)
    changed = stack(db=svc("db", healthcheck=hc, command=("new",)),
                    api=svc("api", depends_on={"db": DependsOn("service_healthy",
                                                               restart=True)}))
    result = Up(changed, backend, UpOptions(wait_timeout=10)).run()
    assert result.failures() == []
    calls = [c for c in backend.calls if c[0] in ("create", "rm", "stop", "start")]
    assert ("create", "proj-db-1") in calls and ("rm", "proj-db-1") in calls
    assert ("stop", "proj-api-1") in calls and ("start", "proj-api-1") in calls
    assert ("rm", "proj-api-1") not in calls  # restarted, not recreated
    assert calls.index(("create", "proj-db-1")) < calls.index(("start", "proj-api-1"))


def test_services_sharing_an_image_make_it_ready_once(
        env: tuple[FakeOps, FakeBackend]) -> None:
    from compose.config.model import BuildConfig

    ops, backend = env
    built = BuildConfig(context="/tmp/ctx")

    def shared(name: str, build: bool) -> Service:
        return Service(name, image="app:1", build=built if build else None,
                       raw={"image": "app:1", "command": name})

    project = Project("proj", "/tmp", {"a": shared("a", False), "b": shared("b", True),
                                       "c": shared("c", True), "d": svc("d")},
                      networks={"default": Network("default", "proj_default")})
    result = Up(project, backend, UpOptions(wait_timeout=10, build=True)).run()
    assert result.failures() == []
    # one call for app:1 (made by b, the first that can build it) and one for busybox
    assert sorted(backend.image_calls) == [("b", "missing", True, True),
                                           ("d", "missing", False, False)]
    backend.image_calls.clear()
    Up(project, backend, UpOptions(wait_timeout=10, no_build=True)).run()
    assert sorted(backend.image_calls) == [("b", "missing", False, False),
                                           ("d", "missing", False, False)]


@pytest.mark.parametrize(("have", "pull", "build", "expected"), [
    (True, "missing", False, "none"),  # present: used as is, no rebuild without --build
    (False, "missing", False, "build"),  # missing: built
    (True, "missing", True, "build"),  # --build
    (True, "build", False, "build"),  # pull_policy: build always builds
    (True, "always", False, "pull"),
])
def test_engine_backend_builds_only_when_needed(monkeypatch: pytest.MonkeyPatch, have: bool,
                                                pull: str, build: bool, expected: str) -> None:
    from types import SimpleNamespace

    from compose.config.model import BuildConfig
    from compose.orchestrator import engine_backend

    done: list[str] = []
    fake = SimpleNamespace(
        exists=lambda ref: have, build=lambda spec: done.append("build"),
        pull=lambda ref: done.append("pull"),
        resolve=lambda ref: SimpleNamespace(id="sha256:x", config=None, layer_dirs=[]))
    monkeypatch.setattr(engine_backend, "images", fake)
    s = Service("web", image="app:1", build=BuildConfig(context="/tmp/ctx"),
                raw={"image": "app:1"})
    project = Project("proj", "/tmp", {"web": s})
    engine_backend.EngineBackend().ensure_image(project, s, pull=pull, build=build,
                                                progress=lambda o, st: None)
    assert done == ([] if expected == "none" else [expected])


def test_down_rmi_removes_a_shared_image_once(env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    project = Project("proj", "/tmp", {n: svc(n) for n in ("a", "b")} | {
        "c": Service("c", raw={"command": "x"})},
        networks={"default": Network("default", "proj_default")})
    assert run_down(project, "proj", backend, DownOptions(rmi="all")) == []
    assert [obj for what, obj in backend.calls if what == "rmi"] == ["busybox", "proj-c"]
    backend.calls.clear()
    assert run_down(project, "proj", backend, DownOptions(rmi="local")) == []
    assert [obj for what, obj in backend.calls if what == "rmi"] == ["proj-c"]


def test_up_reports_waits_like_compose(env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    lines: list[tuple[str, str]] = []
    Up(stack(), backend, UpOptions(wait_timeout=10),
       lambda obj, st: lines.append((obj, st))).run()
    db = [st for obj, st in lines if obj == "proj-db-1"]
    # migrate and api both wait for db healthy; api waits for migrate to complete
    assert db.count("Waiting") == 2 and db.count("Healthy") == 2
    assert db.index("Healthy") > db.index("Started")
    migrate = [st for obj, st in lines if obj == "proj-migrate-1"]
    assert migrate[-2:] == ["Waiting", "Exited"]
    assert lines.index(("proj-db-1", "Healthy")) < lines.index(("proj-migrate-1", "Starting"))


def test_wait_fails_when_a_service_without_healthcheck_exits(
        env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    backend.exit_on_start["job"] = 0
    project = stack(job=svc("job"))
    lines: list[tuple[str, str]] = []
    result = Up(project, backend, UpOptions(wait_timeout=10, wait=True),
                lambda obj, st: lines.append((obj, st))).run()
    # migrate exits 0 too, but api needs it completed: that is what --wait waits for
    assert result.failures() == ["job exited with code 0"]
    assert ("proj-migrate-1", "Exited") in lines and ("proj-job-1", "Error") in lines
    assert ("proj-web-1", "Healthy") in lines  # running past the grace counts as up


def test_wait_succeeds_for_running_services(env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    result = Up(stack(), backend, UpOptions(wait_timeout=10, wait=True)).run()
    assert result.failures() == []


@pytest.mark.parametrize("renew", [False, True])
def test_recreate_carries_anonymous_volumes_over_unless_renewed(
        env: tuple[FakeOps, FakeBackend], renew: bool) -> None:
    ops, backend = env
    backend.anon_targets["web"] = ("/cache", "/scratch")
    Up(stack(), backend, UpOptions(wait_timeout=10)).run()
    (web,) = [c for c in backend.containers.values() if c["service"] == "web"]
    old = dict(web["anon"])
    backend.anon_targets["web"] = ("/cache",)  # /scratch is gone from the new config
    changed = stack(web=svc("web", depends_on={"api": DependsOn()}, command=("serve", "2")))
    Up(changed, backend, UpOptions(wait_timeout=10, renew_anon_volumes=renew)).run()
    (web,) = [c for c in backend.containers.values() if c["service"] == "web"]
    removed = {obj for what, obj in backend.calls if what == "rm-volume"}
    if renew:
        assert web["anon"]["/cache"] != old["/cache"]  # a fresh one...
        assert removed == set(old.values())  # ...and the replaced ones are gone
    else:
        assert web["anon"] == {"/cache": old["/cache"]}  # the same data
        assert removed == {old["/scratch"]}  # the one no longer mounted does not dangle
    assert set(web["anon"].values()) <= backend.volumes
    assert not removed & backend.volumes


def test_profile_disabled_service_is_no_orphan(env: tuple[FakeOps, FakeBackend],
                                               caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    ops, backend = env
    with_debug = stack(debug=svc("debug"))
    Up(with_debug, backend, UpOptions(wait_timeout=10)).run()
    # the same file, `debug` now under a profile not enabled (docker/compose#8432)
    without = dataclasses.replace(stack(), disabled_services=("debug",))
    backend.calls.clear()
    with caplog.at_level("WARNING"):
        Up(without, backend, UpOptions(wait_timeout=10)).run()
        Up(without, backend, UpOptions(wait_timeout=10, remove_orphans=True)).run()
    assert "orphan" not in caplog.text
    assert ("rm", "proj-debug-1") not in backend.calls
    # a service gone from the file is still an orphan
    Up(dataclasses.replace(stack(), disabled_services=()), backend,
       UpOptions(wait_timeout=10)).run()
    assert "Found orphan containers ([proj-debug-1])" in caplog.text


def test_down_leaves_a_profile_disabled_service_without_calling_it_orphan(
        env: tuple[FakeOps, FakeBackend], caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    _ops, backend = env
    Up(stack(debug=svc("debug")), backend, UpOptions(wait_timeout=10)).run()
    without = dataclasses.replace(stack(), disabled_services=("debug",))
    with caplog.at_level("WARNING"):
        run_down(without, "proj", backend, DownOptions())
    assert "orphan" not in caplog.text  # like docker compose: not in the model, not an orphan
    assert [c["name"] for c in backend.containers.values()] == ["proj-debug-1"]
    run_down(stack(debug=svc("debug")), "proj", backend, DownOptions())
    assert backend.containers == {}


def test_post_start_and_pre_stop_hooks(env: tuple[FakeOps, FakeBackend]) -> None:
    from compose.config.model import Hook

    _ops, backend = env
    project = stack(web=svc("web", depends_on={"api": DependsOn()},
                            post_start=(Hook(("init-web",)), Hook(("warm",), user="app")),
                            pre_stop=(Hook(("drain",)),)))
    Up(project, backend, UpOptions(wait_timeout=10)).run()
    order = [(w, o) for w, o in backend.calls if o.startswith("proj-web-1")]
    assert order[1:4] == [("start", "proj-web-1"), ("exec", "proj-web-1 init-web"),
                         ("exec", "proj-web-1 warm")]
    backend.calls.clear()
    backend.exec_results = {"drain": (3, b"", b"busy\n")}
    # down cleans up even when a pre_stop hook fails (reported, then stopped anyway)
    assert run_down(project, "proj", backend, DownOptions()) == []
    web = [(w, o) for w, o in backend.calls if o.startswith("proj-web-1")]
    assert web[:2] == [("exec", "proj-web-1 drain"), ("stop", "proj-web-1")]


def test_failing_post_start_hook_fails_the_service(env: tuple[FakeOps, FakeBackend]) -> None:
    from compose.config.model import Hook

    _ops, backend = env
    backend.exec_results = {"boom": (2, b"out\n", b"")}
    project = stack(web=svc("web", depends_on={"api": DependsOn()},
                            post_start=(Hook(("boom",)),)))
    result = Up(project, backend, UpOptions(wait_timeout=10)).run()
    web = result.runs["web"]
    assert web.outcome is Outcome.FAILED
    assert "web hook exited with status 2: out" in str(web.reason)
    run_down(project, "proj", backend, DownOptions())


def test_changed_volume_is_kept_with_a_warning_or_recreated_with_yes(
        env: tuple[FakeOps, FakeBackend], caplog: pytest.LogCaptureFixture) -> None:
    import dataclasses

    from compose.config.model import VolumeMount

    _ops, backend = env
    web = svc("web", volumes=(VolumeMount("volume", "/data", "data"),))
    project = stack(web=web)
    Up(project, backend, UpOptions(wait_timeout=10)).run()
    relabelled = dataclasses.replace(project, volumes={
        **project.volumes, "data": Volume("data", "proj_data", labels={"foo": "zot"})})
    backend.calls.clear()
    with caplog.at_level("WARNING"):
        Up(relabelled, backend, UpOptions(wait_timeout=10)).run()
    assert "doesn't match configuration in compose file" in caplog.text
    assert ("rm-volume", "proj_data") not in backend.calls
    Up(relabelled, backend, UpOptions(wait_timeout=10, recreate_volumes=True)).run()
    removed = backend.calls.index(("rm-volume", "proj_data"))
    assert backend.calls.index(("rm", "proj-web-1")) < removed  # its user goes first
    assert ("create", "proj-web-1") in backend.calls[removed:]
    backend.calls.clear()
    Up(relabelled, backend, UpOptions(wait_timeout=10, recreate_volumes=True)).run()
    assert ("rm-volume", "proj_data") not in backend.calls  # it matches now


def test_a_wait_timeout_that_runs_out_is_reported_in_docker_compose_words(
        env: tuple[FakeOps, FakeBackend]) -> None:
    ops, backend = env
    ops.probe_results = [(1, "not yet")] * 2000  # still in its start period: "starting"
    slow = Healthcheck(test=("CMD", "ready"), interval=0.01, retries=1000, start_period=60)
    project = Project("proj", "/tmp", {"db": svc("db", healthcheck=slow)},
                      networks={"default": Network("default", "proj_default")})
    result = Up(project, backend, UpOptions(wait=True, wait_timeout=0.5)).run()
    assert result.runs["db"].outcome is Outcome.FAILED
    assert result.runs["db"].reason.startswith("application not healthy after 500ms")


def test_no_deps_refuses_to_share_with_a_missing_container(
        env: tuple[FakeOps, FakeBackend]) -> None:
    """docker compose's TestNoDepsVolumeFrom / TestNoDepsNetworkMode."""
    from compose.errors import ComposeError

    ops, backend = env
    for field, what in (({"volumes_from": ("db",)}, "volume"),
                        ({"network_mode": "service:db"}, "network namespace")):
        project = Project("proj", "/tmp", {"db": svc("db"), "app": svc("app", **field)},
                          networks={"default": Network("default", "proj_default")})
        with pytest.raises(ComposeError, match=f"cannot share {what} with service db: "
                           "container missing"):
            Up(project, backend, UpOptions(services=("app",), no_deps=True)).run()
    Up(project, backend, UpOptions(services=("db",))).run()  # db's container exists now
    Up(project, backend, UpOptions(services=("app",), no_deps=True)).run()
