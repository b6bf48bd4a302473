"""config.json generation (pure, no root)."""
from __future__ import annotations

import resource
from pathlib import Path

import pytest

from engine.containers.bundle import HostFacts, build_config, rlimits, signal_number
from engine.containers.security import DEFAULT_CAPS, MASKED_PATHS, effective_caps
from engine.containers.spec import ContainerSpec, Mount, MountType, NetworkMode, Resources
from engine.containers.users import ResolvedUser
from engine.errors import EngineError

CID = "ab" * 32
ROOT = ResolvedUser(0, 0, (), "/root")


def _config(**kw: object) -> dict:
    spec = ContainerSpec(name="t", argv=("sh",), layers=(Path("/l"),), **kw)  # type: ignore
    return build_config(CID, spec, ROOT, HostFacts(swap_accounting=True,
                                                   init_binary="/usr/bin/tini-static"))


def _denied(config: dict) -> set[str]:
    return {n for rule in config["linux"]["seccomp"]["syscalls"] if "args" not in rule
            and rule["action"] == "SCMP_ACT_ERRNO" for n in rule["names"]}


def test_defaults_match_docker() -> None:
    c = _config()
    assert c["ociVersion"].startswith("1.")
    proc = c["process"]
    assert sorted(proc["capabilities"]["effective"]) == sorted(DEFAULT_CAPS)
    assert len(DEFAULT_CAPS) == 14
    assert proc["noNewPrivileges"] is True
    assert proc["env"][0].startswith("PATH=/usr/local/sbin")
    assert "HOME=/root" in proc["env"]
    assert c["hostname"] == CID[:12]
    assert c["linux"]["cgroupsPath"] == f"/pycompose/{CID}"
    assert c["linux"]["maskedPaths"] == list(MASKED_PATHS)
    assert "/proc/sysrq-trigger" in c["linux"]["readonlyPaths"]
    dests = {m["destination"]: m for m in c["mounts"]}
    assert set(dests) >= {"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys",
                          "/sys/fs/cgroup"}
    assert "ro" in dests["/sys"]["options"]
    assert f"size={64 * 1024 * 1024}" in dests["/dev/shm"]["options"]
    types = {n["type"] for n in c["linux"]["namespaces"]}
    assert types == {"mount", "uts", "cgroup", "pid", "ipc", "network"}
    denied = _denied(c)
    for name in ("mount", "umount2", "unshare", "setns", "reboot", "kexec_load", "init_module",
                 "finit_module", "delete_module", "keyctl", "add_key", "request_key", "bpf",
                 "perf_event_open", "open_by_handle_at", "pivot_root", "acct", "swapon",
                 "clock_settime", "settimeofday"):
        assert name in denied, name
    ptrace = [r for r in c["linux"]["seccomp"]["syscalls"] if r["names"] == ["ptrace"]]
    assert ptrace and ptrace[0]["args"][0]["op"] == "SCMP_CMP_NE"  # PTRACE_TRACEME allowed
    devices = c["linux"]["resources"]["devices"]
    assert devices[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in devices


def test_cap_add_lifts_matching_seccomp_rules() -> None:
    c = _config(cap_add=("SYS_ADMIN", "sys_time"), cap_drop=("NET_RAW",))
    caps = c["process"]["capabilities"]["effective"]
    assert "CAP_SYS_ADMIN" in caps and "CAP_SYS_TIME" in caps and "CAP_NET_RAW" not in caps
    denied = _denied(c)
    assert "mount" not in denied and "clock_settime" not in denied
    assert "reboot" in denied and "keyctl" in denied


def test_privileged_has_everything_and_no_filters() -> None:
    c = _config(privileged=True)
    assert "seccomp" not in c["linux"] and "maskedPaths" not in c["linux"]
    assert "CAP_SYS_ADMIN" in c["process"]["capabilities"]["bounding"]
    assert c["process"]["noNewPrivileges"] is False
    assert c["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert "ro" not in next(m for m in c["mounts"] if m["destination"] == "/sys")["options"]


def test_cap_all_rules() -> None:
    assert set(effective_caps(("ALL",), (), False)) >= set(DEFAULT_CAPS) | {"CAP_SYS_ADMIN"}
    assert effective_caps(("CHOWN",), ("ALL",), False) == ["CAP_CHOWN"]
    with pytest.raises(EngineError, match="unknown capability"):
        effective_caps(("FLY",), (), False)


def test_resources_in_oci_units() -> None:
    res = Resources(memory=64 << 20, memory_reservation=32 << 20, cpus=0.5, cpu_shares=512,
                    cpuset="0", pids_limit=50, oom_score_adj=100)
    c = _config(resources=res)
    r = c["linux"]["resources"]
    assert r["memory"] == {"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20}
    assert r["cpu"] == {"period": 100000, "quota": 50000, "shares": 512, "cpus": "0"}
    assert r["pids"] == {"limit": 50}
    assert c["process"]["oomScoreAdj"] == 100


def test_network_modes() -> None:
    host = {n["type"] for n in _config(network_mode=NetworkMode.HOST)["linux"]["namespaces"]}
    assert "network" not in host
    joined = _config(netns_path="/run/netns/x")["linux"]["namespaces"]
    assert {"type": "network", "path": "/run/netns/x"} in joined


def test_user_mounts_and_overrides() -> None:
    mounts = (Mount(MountType.BIND, "/data", "/srv/data", read_only=True),
              Mount(MountType.TMPFS, "/run", tmpfs_size=1000, tmpfs_mode=0o1777),
              Mount(MountType.TMPFS, "/dev/shm"))
    c = _config(mounts=mounts, shm_size=1 << 20)
    by_dest = {m["destination"]: m for m in c["mounts"]}
    assert by_dest["/data"]["options"] == ["rbind", "ro", "rprivate"]
    assert "size=1000" in by_dest["/run"]["options"] and "mode=1777" in by_dest["/run"]["options"]
    assert [m["destination"] for m in c["mounts"]].count("/dev/shm") == 1  # user's wins


def test_init_prepends_the_init_binary() -> None:
    c = _config(init=True)
    assert c["process"]["args"] == ["/sbin/docker-init", "--", "sh"]
    assert {"destination": "/sbin/docker-init", "type": "bind",
            "source": "/usr/bin/tini-static", "options": ["bind", "ro"]} in c["mounts"]
    spec = ContainerSpec(name="t", argv=("sh",), layers=(Path("/l"),), init=True)
    with pytest.raises(EngineError, match="tini"):
        build_config(CID, spec, ROOT, HostFacts())


def test_errors_for_user_mistakes() -> None:
    with pytest.raises(EngineError, match="no command"):
        build_config(CID, ContainerSpec(name="t", argv=(), layers=(Path("/l"),)), ROOT,
                     HostFacts())
    with pytest.raises(EngineError, match="not namespaced"):
        _config(sysctls={"vm.swappiness": "1"})
    with pytest.raises(EngineError, match="network_mode host"):
        _config(sysctls={"net.ipv4.ip_forward": "1"}, network_mode=NetworkMode.HOST)
    with pytest.raises(EngineError, match="unknown ulimit"):
        _config(ulimits={"bogus": (1, 1)})


def test_rlimits_are_clamped_to_the_host_hard_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _r: (1024, 20000))
    out = rlimits({"nofile": (65536, 65536), "nproc": (100, 200)}, "t")
    assert {"type": "RLIMIT_NOFILE", "soft": 20000, "hard": 20000} in out
    assert {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200} in out


def test_signal_numbers() -> None:
    assert signal_number("SIGTERM") == 15
    assert signal_number("kill") == 9
    assert signal_number("10") == 10
    with pytest.raises(EngineError):
        signal_number("SIGNOPE")
