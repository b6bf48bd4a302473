"""The same guarantees with real containers: two busybox containers run by the container engine
(runc) join sandboxes made here and find each other by name through 127.0.0.11."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.containers as C
import engine.networks as N
from engine.naming import new_id
from tests.integration.networks.conftest import NetEnv, free_subnet

pytestmark = pytest.mark.root


@pytest.fixture
def runc_engine(netenv: NetEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    if shutil.which("runc") is None:
        pytest.skip("runc not installed")
    monkeypatch.setenv("PYCOMPOSE_RUNTIME", "runc")
    ids: list[str] = []
    yield ids
    for cid in ids:
        C.delete(cid, force=True)


def test_containers_resolve_and_reach_each_other(
        runc_engine: list[str], busybox_rootfs: Path, tmp_path: Path) -> None:
    from engine.containers.spec import ContainerSpec, Mount, MountType

    net = N.create_network(N.NetworkSpec(name=f"t{new_id()[:6]}_ctr", ipam=N.IpamSpec(
        configs=(N.IpamConfig(subnet=free_subnet()),))))
    N.write_resolv_conf(tmp_path / "resolv.conf", use_embedded=True)
    project = f"t{new_id()[:6]}"
    for service, argv in (("web", ("httpd", "-f", "-p", "80", "-h", "/etc")),
                          ("client", ("sleep", "60"))):
        key = new_id()  # the sandbox is made before the container id exists
        path = N.create_sandbox(key)
        ep = N.connect(key, net.name, N.EndpointSpec(dns_names=(f"{project}-{service}-1",
                                                                 service)))
        hosts = tmp_path / f"hosts-{service}"
        N.write_hosts(hosts, hostname=service, addresses=[ep.ipv4])  # type: ignore[list-item]
        info = C.create(ContainerSpec(
            name=f"{project}-{service}-1", argv=argv, layers=(busybox_rootfs,),
            netns_path=str(path), hostname=service, mounts=(
                Mount(MountType.BIND, "/etc/resolv.conf", str(tmp_path / "resolv.conf")),
                Mount(MountType.BIND, "/etc/hosts", str(hosts)))))
        runc_engine.append(info.id)
        C.start(info.id)
    client = runc_engine[1]
    code, out, _ = C.exec_output(client, ("nslookup", f"{project}-web-1"))
    assert code == 0 and "Address: 10." in out.decode()
    script = "for i in 1 2 3 4 5 6 7 8 9 10; do printf 'GET /hosts HTTP/1.0\\r\\n\\r\\n' | " \
             "nc web 80 && exit 0; sleep 0.2; done; exit 1"
    code, out, _ = C.exec_output(client, ("sh", "-c", script))
    body = out.decode().split("\r\n\r\n", 1)[-1]
    assert code == 0 and body == (tmp_path / "hosts-web").read_text()  # web's own /etc/hosts
