"""Service → ContainerSpec translation (docker's override rules, explicit rejections)."""
from __future__ import annotations

import pytest

from compose.config.model import (
    Deploy,
    ResourceSpec,
    Service,
    TmpfsOptions,
    VolumeMount,
    VolumeOptions,
)
from compose.orchestrator.translate import (
    TranslateError,
    VolumeRequest,
    check_supported,
    command_argv,
    container_spec,
    merged_env,
    service_mounts,
)
from engine.containers import MountType
from engine.images.model import ImageConfig

IMG = ImageConfig(env=("PATH=/bin", "A=img"), cmd=("sh",), entrypoint=("/entry",),
                  working_dir="/app", user="app", stop_signal="SIGQUIT", volumes=("/data",),
                  labels=(("from", "image"),))


def test_command_overrides_cmd_only() -> None:
    assert command_argv(Service("s", command=("run",)), ("/e",), ("c",)) == ("/e", "run")


def test_entrypoint_resets_cmd_unless_command() -> None:
    assert command_argv(Service("s", entrypoint=("/x",)), ("/e",), ("c",)) == ("/x",)
    assert command_argv(Service("s", entrypoint=("/x",), command=("y",)), ("/e",), ("c",)) == (
        "/x", "y")
    assert command_argv(Service("s"), ("/e",), ("c",)) == ("/e", "c")
    with pytest.raises(TranslateError):  # an empty entrypoint clears the image CMD as well
        command_argv(Service("s", entrypoint=()), ("/e",), ("c",))


def test_no_command_is_an_error() -> None:
    with pytest.raises(TranslateError, match='service "s": no command'):
        command_argv(Service("s"), None, None)


def test_env_merge_and_unset_dropped() -> None:
    env = merged_env(("PATH=/bin", "A=img"), {"A": "svc", "B": None, "C": ""})
    assert env == ("PATH=/bin", "A=svc", "C=")
    # a passthrough the shell does not set unsets the image's value (docker's bare ``KEY``)
    assert merged_env(("PATH=/bin", "EMPTY=image"), {"EMPTY": None}) == ("PATH=/bin",)


def test_unsupported_keys_are_named() -> None:
    with pytest.raises(TranslateError) as err:
        check_supported(Service("web", raw={"image": "x", "gpus": "all"}))
    assert str(err.value).startswith('service "web": key "gpus" is not supported by pycompose')
    check_supported(Service("web", raw={"image": "x", "x-custom": 1}))
    with pytest.raises(TranslateError, match="deploy.placement"):
        check_supported(Service("web", deploy=Deploy(raw={"placement": {}}),
                                raw={"deploy": {"placement": {}}}))


def test_mounts_named_anonymous_tmpfs_and_image_volume() -> None:
    requests: list[VolumeRequest] = []

    def source(req: VolumeRequest) -> str:
        requests.append(req)
        return f"/vol/{req.name or 'anon'}{req.target}"
    svc = Service("s", volumes=(
        VolumeMount("volume", "/var/lib/db", "dbdata", volume=VolumeOptions(nocopy=True)),
        VolumeMount("bind", "/src", "/host/src", read_only=True),
        VolumeMount("tmpfs", "/scratch", tmpfs=TmpfsOptions(size=1024, mode=0o1777)),
    ), tmpfs=("/run:size=65536",))
    mounts = service_mounts(svc, {"dbdata": "proj_dbdata"}, ("/data", "/scratch"), source)
    kinds = [(m.type, m.target) for m in mounts]
    assert kinds == [(MountType.VOLUME, "/var/lib/db"), (MountType.BIND, "/src"),
                     (MountType.TMPFS, "/scratch"), (MountType.TMPFS, "/run"),
                     (MountType.VOLUME, "/data")]
    assert requests[0] == VolumeRequest("proj_dbdata", "/var/lib/db", nocopy=True)
    assert requests[1] == VolumeRequest(None, "/data")
    assert mounts[1].read_only and mounts[2].tmpfs_size == 1024 and mounts[3].tmpfs_size == 65536


def test_undefined_volume_rejected() -> None:
    svc = Service("s", volumes=(VolumeMount("volume", "/x", "nope"),))
    with pytest.raises(TranslateError, match="undefined volume nope"):
        service_mounts(svc, {}, (), lambda r: "/")


def test_container_spec_fields() -> None:
    svc = Service("web", command=("serve",), environment={"A": "svc"}, user="0:0",
                  labels={"l": "1"}, mem_limit=1 << 20,
                  deploy=Deploy(limits=ResourceSpec(cpus=0.5, memory=4 << 20, pids=64)))
    spec = container_spec(svc, name="p-web-1", image_config=IMG, layers=(),
                          labels={"com.docker.compose.service": "web"}, mounts=())
    assert spec.argv == ("/entry", "serve")
    assert spec.env == ("PATH=/bin", "A=svc")
    assert spec.working_dir == "/app" and spec.user == "0:0" and spec.stop_signal == "SIGQUIT"
    assert spec.labels == {"from": "image", "l": "1", "com.docker.compose.service": "web"}
    assert spec.resources.memory == 1 << 20  # mem_limit wins over deploy limits
    assert spec.resources.cpus == 0.5 and spec.resources.pids_limit == 64
    assert spec.stop_grace_period == 10.0


def test_volumes_from_links_and_container_network_mode_are_accepted() -> None:
    check_supported(Service("web", volumes_from=("data:ro", "container:other:rw"),
                            links=("db:database",), network_mode="container:box",
                            raw={"image": "x", "volumes_from": ["data:ro"],
                                 "links": ["db:database"], "network_mode": "container:box"}))
    with pytest.raises(TranslateError, match="invalid volumes_from entry 'data:rx'"):
        check_supported(Service("web", volumes_from=("data:rx",),
                                raw={"image": "x", "volumes_from": ["data:rx"]}))


def test_parse_volumes_from() -> None:
    from compose.orchestrator.translate import VolumesFrom, parse_volumes_from

    assert parse_volumes_from("s", "data") == VolumesFrom("data", False, None)
    assert parse_volumes_from("s", "data:ro") == VolumesFrom("data", False, True)
    assert parse_volumes_from("s", "container:box:rw") == VolumesFrom("box", True, False)
    assert parse_volumes_from("s", "container:box") == VolumesFrom("box", True, None)


def test_inherited_mounts_skip_tmpfs_generated_files_and_own_targets() -> None:
    from compose.orchestrator.translate import VolumesFrom, inherited_mounts
    from engine.containers import Mount

    source = (Mount(MountType.VOLUME, "/data", "/vols/data", read_only=False),
              Mount(MountType.BIND, "/conf", "/host/conf", read_only=True),
              Mount(MountType.TMPFS, "/tmp"),
              Mount(MountType.BIND, "/etc/hosts", "/state/files/box/hosts"),
              Mount(MountType.VOLUME, "/cache", "/vols/anon"))
    own = (Mount(MountType.VOLUME, "/cache", "/vols/mine"),)
    got = inherited_mounts(VolumesFrom("box", True, None), source, own, "/state/files/box")
    assert [(m.target, m.source, m.read_only) for m in got] == [
        ("/data", "/vols/data", False), ("/conf", "/host/conf", True)]
    ro = inherited_mounts(VolumesFrom("box", True, True), source, own, "/state/files/box")
    assert all(m.read_only for m in ro)
    rw = inherited_mounts(VolumesFrom("box", True, False), source, own, "/state/files/box")
    assert not any(m.read_only for m in rw)


def test_link_aliases_become_aliases_of_the_target_on_shared_networks() -> None:
    from compose.config.model import ServiceNetwork
    from compose.orchestrator.translate import link_aliases

    services = {
        "db": Service("db"),
        "api": Service("api", links=("db:database", "cache")),
        "worker": Service("worker", links=("db:store",),
                          networks={"back": ServiceNetwork()}),
        "job": Service("job", links=("db:host-only",), network_mode="host"),
    }
    assert link_aliases(services, "db", "default") == ("database",)
    assert link_aliases(services, "db", "back") == ("store",)
    assert link_aliases(services, "cache", "default") == ()


@pytest.mark.parametrize(("opts", "nnp", "seccomp"), [
    ((), False, "default"),  # docker: setuid programs work unless asked otherwise
    (("no-new-privileges",), True, "default"),
    (("no-new-privileges:true",), True, "default"),
    (("no-new-privileges=true", "no-new-privileges:false"), False, "default"),
    (("seccomp=unconfined", "apparmor=unconfined", "label:disable"), False, "unconfined"),
    (("seccomp:unconfined", "no-new-privileges"), True, "unconfined"),
])
def test_security_opt_maps_to_the_engine(opts: tuple[str, ...], nnp: bool,
                                         seccomp: str) -> None:
    svc = Service("web", security_opt=opts)
    check_supported(svc)
    spec = container_spec(svc, name="p-web-1", image_config=IMG, layers=(), labels={},
                          mounts=())
    assert (spec.no_new_privileges, spec.seccomp) == (nnp, seccomp)


@pytest.mark.parametrize("opt", ["seccomp=/etc/profile.json", "apparmor=docker-default",
                                 "label=type:svirt_t", "no-new-privileges:maybe"])
def test_other_security_opts_are_refused(opt: str) -> None:
    with pytest.raises(TranslateError, match="security_opt"):
        check_supported(Service("web", security_opt=(opt,)))


@pytest.mark.parametrize(("ipc", "mode"), [
    (None, "private"), ("shareable", "private"), ("private", "private"), ("host", "host"),
    ("service:db", "container:proj-db-1"), ("container:other", "container:other"),
])
def test_ipc_modes(ipc: str | None, mode: str) -> None:
    svc = Service("web", ipc=ipc)
    check_supported(svc)
    spec = container_spec(svc, name="proj-web-1", image_config=IMG, layers=(), labels={},
                          mounts=(), service_container=lambda s: f"proj-{s}-1")
    assert spec.ipc_mode == mode
    if ipc == "service:db":
        assert "db" in svc.dependencies()


def test_start_interval_needs_start_period_like_docker() -> None:
    from compose.config.model import Healthcheck

    svc = Service("s", raw={"image": "x"}, healthcheck=Healthcheck(test=("CMD", "true"),
                                                                    start_interval=1.0))
    with pytest.raises(TranslateError, match="start_interval requires healthcheck.start_period"):
        check_supported(svc)
    check_supported(Service("s", raw={"image": "x"}, healthcheck=Healthcheck(
        test=("CMD", "true"), start_interval=1.0, start_period=5.0)))
