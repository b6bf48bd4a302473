"""Optional user namespace: container root is an unprivileged uid on the host."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.runtime.bundles import make_config, write_bundle
from tests.integration.runtime.conftest import Env, wait

pytestmark = pytest.mark.root

HOST_BASE = 231072


def test_user_namespace_maps_root(env: Env) -> None:
    config = make_config(["sh", "-c", "id -u; cat /proc/self/uid_map; echo x > /rootfile; "
                                      "ls /dev/null && echo pid=$$; sleep 0.3"],
                         namespaces=["user", "pid", "network", "ipc", "uts", "mount",
                                     "cgroup"])
    maps = [{"containerID": 0, "hostID": HOST_BASE, "size": 65536}]
    config["linux"]["uidMappings"] = maps
    config["linux"]["gidMappings"] = maps
    write_bundle(env.bundle, config)
    env.bundle.parent.chmod(0o755)  # mkdtemp's 0700 would keep the mapped root out
    cid = env.new_id()
    pid, out = env.create(cid)
    env.rt.start(cid)
    status = Path(f"/proc/{pid}/status").read_text()
    assert wait(pid) == 0, out.read_text()
    env.rt.delete(cid)
    lines = out.read_text().split("\n")
    assert lines[0] == "0"
    assert lines[1].split() == ["0", str(HOST_BASE), "65536"]
    assert "Permission denied" in out.read_text()  # host-root-owned rootfs is not ours
    assert "pid=1" in lines
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1] == str(HOST_BASE)
