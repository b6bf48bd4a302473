"""``devices:`` from compose short syntax to config.json nodes and cgroup rules (no root needed
except where a device node is made)."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from compose.config.model import Device, Service
from compose.config.syntax import parse_device
from compose.orchestrator.translate import TranslateError, check_supported, container_spec
from engine.cgroups.devicefilter import ACC_READ, ACC_WRITE, DEV_BLOCK, DEV_CHAR
from engine.containers.bundle import HostFacts, build_config
from engine.containers.spec import ContainerSpec, DeviceMapping
from engine.containers.users import ResolvedUser
from engine.errors import EngineError
from engine.images.model import ImageConfig
from tests.unit.cgroups.test_devicefilter import allowed

NULL = os.stat("/dev/null")


def _config(*devices: DeviceMapping, privileged: bool = False) -> dict:
    spec = ContainerSpec(name="t", argv=("sh",), layers=(Path("/l"),), devices=devices,
                         privileged=privileged)
    return build_config("c" * 64, spec, ResolvedUser(0, 0, (), "/root"),
                        HostFacts(swap_accounting=True, init_binary=None))


@pytest.mark.parametrize(("text", "expected"), [
    ("/dev/x", ("/dev/x", "/dev/x", "rwm")),
    ("/dev/x:/dev/y", ("/dev/x", "/dev/y", "rwm")),
    ("/dev/x:/dev/y:r", ("/dev/x", "/dev/y", "r")),
    ("/dev/x:rw", ("/dev/x", "/dev/x", "rw")),
])
def test_short_syntax(text: str, expected: tuple[str, str, str]) -> None:
    d = parse_device(text)
    assert (d["source"], d["target"], d["permissions"]) == expected


def test_a_device_becomes_a_node_and_exactly_one_allow_rule() -> None:
    c = _config(DeviceMapping("/dev/null", "/dev/mynull", "rw"))
    assert c["linux"]["devices"] == [{
        "path": "/dev/mynull", "type": "c", "major": os.major(NULL.st_rdev),
        "minor": os.minor(NULL.st_rdev), "fileMode": stat.S_IMODE(NULL.st_mode),
        "uid": 0, "gid": 0}]
    rules = c["linux"]["resources"]["devices"]
    assert rules[-1] == {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}
    assert rules[:-1] == _config()["linux"]["resources"]["devices"]


def test_grant_opens_only_that_block_device(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of a block device needs root")
    os.mknod(tmp_path / "disk", stat.S_IFBLK | 0o660, os.makedev(7, 3))
    rules = _config(DeviceMapping(str(tmp_path / "disk"), "/dev/xvda", "r"))[
        "linux"]["resources"]["devices"]
    assert allowed(rules, DEV_BLOCK, 7, 3, ACC_READ)
    assert not allowed(rules, DEV_BLOCK, 7, 3, ACC_WRITE)
    assert not allowed(rules, DEV_BLOCK, 7, 4, ACC_READ)
    assert not allowed(rules, DEV_CHAR, 7, 3, ACC_READ)


def test_directory_gives_every_device_below(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    (tmp_path / "snd").mkdir()
    os.mknod(tmp_path / "snd" / "a", stat.S_IFCHR | 0o660, os.makedev(116, 1))
    os.mknod(tmp_path / "snd" / "b", stat.S_IFCHR | 0o660, os.makedev(116, 2))
    (tmp_path / "snd" / "not-a-device").write_text("")
    nodes = _config(DeviceMapping(str(tmp_path / "snd"), "/dev/snd"))["linux"]["devices"]
    assert [(n["path"], n["minor"]) for n in nodes] == [("/dev/snd/a", 1), ("/dev/snd/b", 2)]


def test_privileged_adds_nodes_but_no_extra_rule() -> None:
    c = _config(DeviceMapping("/dev/null", "/dev/n"), privileged=True)
    assert c["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert c["linux"]["devices"][0]["path"] == "/dev/n"


@pytest.mark.parametrize(("mapping", "message"), [
    (DeviceMapping("/etc/hostname", "/dev/x"), "not a device node"),
    (DeviceMapping("/dev/nope-not-here", "/dev/x"), "No such file"),
    (DeviceMapping("/dev/null", "/dev/x", "rx"), "invalid device permissions"),
])
def test_engine_errors(mapping: DeviceMapping, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        _config(mapping)


def test_translate_passes_devices_and_rejects_bad_ones() -> None:
    svc = Service("s", devices=(Device("/dev/null", "/dev/n", "rw"),), raw={"devices": []})
    check_supported(svc)
    spec = container_spec(svc, name="p-s-1", image_config=ImageConfig(cmd=("sh",)), layers=(),
                          labels={}, mounts=())
    assert spec.devices == (DeviceMapping("/dev/null", "/dev/n", "rw"),)
    for dev, message in ((Device("nvidia.com/gpu=all", "nvidia.com/gpu=all"), "CDI"),
                         (Device("dev/null", "/dev/n"), "absolute host path"),
                         (Device("/dev/null", "n"), "not an absolute path"),
                         (Device("/dev/null", "/dev/n", "rwx"), "invalid permissions")):
        with pytest.raises(TranslateError, match=message) as e:
            check_supported(Service("s", devices=(dev,), raw={"devices": []}))
        assert e.value.key_path == "services.s.devices"


def test_blkio_config_to_oci_block_io(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("mknod of a block device needs root")
    disk = tmp_path / "sdz"
    os.mknod(disk, stat.S_IFBLK | 0o600, os.makedev(8, 16))
    svc = Service("s", raw={"blkio_config": {
        "weight": 300, "weight_device": [{"path": str(disk), "weight": 500}],
        "device_read_bps": [{"path": str(disk), "rate": "12mb"}],
        "device_write_iops": [{"path": str(disk), "rate": 30}]}})
    check_supported(svc)
    spec = container_spec(svc, name="p-s-1", image_config=ImageConfig(cmd=("sh",)), layers=(),
                          labels={}, mounts=())
    assert spec.resources.device_read_bps == ((str(disk), 12 << 20),)
    full = ContainerSpec(name="t", argv=("sh",), layers=(Path("/l"),), resources=spec.resources)
    bio = build_config("c" * 64, full, ResolvedUser(0, 0, (), "/root"),
                       HostFacts(swap_accounting=True, init_binary=None, blkio_weight=True)
                       )["linux"]["resources"]["blockIO"]
    assert bio == {"weight": 300, "weightDevice": [{"major": 8, "minor": 16, "weight": 500}],
                   "throttleReadBpsDevice": [{"major": 8, "minor": 16, "rate": 12 << 20}],
                   "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 30}]}
    no_weight = build_config("c" * 64, full, ResolvedUser(0, 0, (), "/root"),
                             HostFacts(swap_accounting=True, init_binary=None)
                             )["linux"]["resources"]["blockIO"]
    assert "weight" not in no_weight and "weightDevice" not in no_weight  # docker discards them
    assert no_weight["throttleReadBpsDevice"] == bio["throttleReadBpsDevice"]
    from engine.containers import record
    assert record.spec_from_json(record.spec_to_json(full)) == full
    with pytest.raises(EngineError, match="not a block device"):
        build_config("c" * 64, ContainerSpec(
            name="t", argv=("sh",), layers=(Path("/l"),),
            resources=type(spec.resources)(device_read_bps=(("/dev/null", 1),))),
            ResolvedUser(0, 0, (), "/root"), HostFacts(swap_accounting=True, init_binary=None))
