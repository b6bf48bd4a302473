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


_OPS = {"SCMP_CMP_EQ": lambda a, v, _m: a == v, "SCMP_CMP_NE": lambda a, v, _m: a != v,
        "SCMP_CMP_MASKED_EQ": lambda a, mask, want: a & mask == want}


def verdict(config: dict, name: str, *args: int) -> str:
    """What the OCI seccomp object does with ``name(args)``: the action of the first rule
    naming it whose argument conditions hold, else the default action (libseccomp's result
    for these profiles, which never give one syscall two matching rules)."""
    profile = config["linux"]["seccomp"]
    for rule in profile["syscalls"]:
        if name not in rule["names"]:
            continue
        conds = rule.get("args") or []
        if all(_OPS[c["op"]](args[c["index"]] if c["index"] < len(args) else 0,
                             c["value"], c.get("valueTwo", 0)) for c in conds):
            return rule["action"]
    return profile["defaultAction"]


def _denied(config: dict) -> set[str]:
    names = {n for rule in config["linux"]["seccomp"]["syscalls"] for n in rule["names"]}
    probe = names | {"keyctl", "reboot", "io_uring_setup", "kexec_load", "open_by_handle_at",
                     "pivot_root", "swapon", "init_module", "settimeofday", "clock_settime",
                     "acct", "bpf", "perf_event_open", "umount2", "setns", "unshare", "mount",
                     "delete_module", "finit_module", "add_key", "request_key"}
    return {n for n in probe if verdict(config, n) != "SCMP_ACT_ALLOW"}


def test_defaults_match_docker() -> None:
    c = _config()
    assert c["ociVersion"].startswith("1.")
    proc = c["process"]
    assert sorted(proc["capabilities"]["effective"]) == sorted(DEFAULT_CAPS)
    assert len(DEFAULT_CAPS) == 14
    assert proc["noNewPrivileges"] is False  # docker: only with no-new-privileges
    assert proc["env"][0].startswith("PATH=/usr/local/sbin")
    assert "HOME=/root" in proc["env"]
    assert c["hostname"] == CID[:12]
    assert f"HOSTNAME={CID[:12]}" in proc["env"]  # docker: the hostname, the id by default
    assert "HOSTNAME=db" in _config(hostname="db")["process"]["env"]
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
    seccomp = c["linux"]["seccomp"]
    assert (seccomp["defaultAction"], seccomp["defaultErrnoRet"]) == ("SCMP_ACT_ERRNO", 1)
    for name in ("read", "adjtimex", "clock_adjtime", "ptrace", "setuid", "execve", "chroot"):
        assert verdict(c, name) == "SCMP_ACT_ALLOW", name
    assert verdict(c, "io_uring_setup") == "SCMP_ACT_ERRNO"
    assert verdict(c, "a_syscall_from_the_future") == "SCMP_ACT_ERRNO"  # an allow-list
    assert verdict(c, "socket", 2) == "SCMP_ACT_ALLOW"  # AF_INET
    assert verdict(c, "socket", 40) == "SCMP_ACT_ERRNO"  # AF_VSOCK
    assert verdict(c, "clone", 0x11) == "SCMP_ACT_ALLOW"  # fork-like
    assert verdict(c, "clone", 0x40000000 | 0x11) == "SCMP_ACT_ERRNO"  # CLONE_NEWNET
    assert verdict(c, "personality", 0xFFFFFFFF) == "SCMP_ACT_ALLOW"  # query
    assert verdict(c, "personality", 0x0040000) == "SCMP_ACT_ERRNO"  # ADDR_NO_RANDOMIZE
    assert next(r for r in seccomp["syscalls"] if "clone3" in r["names"])["errnoRet"] == 38
    devices = c["linux"]["resources"]["devices"]
    assert devices[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in devices


def test_cap_add_lifts_matching_seccomp_rules() -> None:
    c = _config(cap_add=("SYS_ADMIN", "sys_time"), cap_drop=("NET_RAW",))
    caps = c["process"]["capabilities"]["effective"]
    assert "CAP_SYS_ADMIN" in caps and "CAP_SYS_TIME" in caps and "CAP_NET_RAW" not in caps
    denied = _denied(c)
    assert "mount" not in denied and "clock_settime" not in denied
    assert verdict(c, "clone", 0x40000000) == "SCMP_ACT_ALLOW"  # SYS_ADMIN: namespaces
    assert "reboot" in denied and "keyctl" in denied and "io_uring_setup" in denied


def test_no_new_privileges_and_seccomp_unconfined_on_request() -> None:
    c = _config(no_new_privileges=True)
    assert c["process"]["noNewPrivileges"] is True and "seccomp" in c["linux"]
    c = _config(seccomp="unconfined")
    assert "seccomp" not in c["linux"] and "maskedPaths" in c["linux"]
    assert c["process"]["noNewPrivileges"] is False


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


def test_image_mounts_are_read_only_binds_or_overlays() -> None:
    c = _config(mounts=(Mount(MountType.IMAGE, "/one", lower=("/l/a",)),
                        Mount(MountType.IMAGE, "/two", lower=("/l/low", "/l/high"))))
    dests = {m["destination"]: m for m in c["mounts"]}
    assert dests["/one"]["type"] == "bind" and "ro" in dests["/one"]["options"]
    assert dests["/one"]["source"] == "/l/a"
    two = dests["/two"]
    assert two["type"] == "overlay" and "ro" in two["options"]
    assert "lowerdir=/l/high:/l/low" in two["options"]  # overlay lists the top first
