"""docker's security defaults, checked inside real containers on every runtime: setuid programs
work unless no-new-privileges is asked for, the seccomp allow-list lets adjtimex read the clock
but refuses to set it without CAP_SYS_TIME, and unknown or dangerous syscalls stay refused.

The probe is a small static C program compiled here (gcc and a static libc, probed) and put in
an extra image layer, installed setuid root."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import engine.containers as containers
from engine.containers.spec import ContainerSpec

pytestmark = pytest.mark.root

PROBE_C = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, long rc) {
    printf("%s=%s\n", what, rc < 0 ? strerrorname_np(errno) : "ok");
}

int main(void) {
    struct timex tx = {0};
    printf("euid=%d\n", (int)geteuid());
    show("adjtimex_read", adjtimex(&tx));
    struct timex set = {.modes = ADJ_OFFSET | ADJ_STATUS, .offset = 0, .status = tx.status};
    show("adjtimex_write", adjtimex(&set));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    show("clock_settime", clock_settime(CLOCK_REALTIME, &now));
    struct timeval tv;
    gettimeofday(&tv, NULL);
    show("settimeofday", settimeofday(&tv, NULL));
    show("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
    show("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    show("unknown", syscall(1000));
    return 0;
}
"""


@pytest.fixture(scope="module")
def probe_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layer holding /bin/probe, setuid root."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed (apt-get install gcc)")
    layer = tmp_path_factory.mktemp("probe-layer")
    (layer / "bin").mkdir()
    src = layer.parent / "probe.c"
    src.write_text(PROBE_C)
    built = subprocess.run(["gcc", "-static", "-O1", "-o", str(layer / "bin" / "probe"),
                            str(src)], capture_output=True, text=True)
    if built.returncode != 0 and "cannot find -lc" in built.stderr:
        pytest.skip("no static libc (apt-get install libc6-dev)")
    assert built.returncode == 0, built.stderr
    os.chown(layer / "bin" / "probe", 0, 0)
    os.chmod(layer / "bin" / "probe", 0o4755)
    return layer


def _run_probe(engine, probe_layer: Path, name: str, **kw: object) -> dict[str, str]:
    spec = ContainerSpec(name=name, argv=("/bin/probe",), layers=(engine.rootfs, probe_layer),
                         stop_grace_period=1.0, **kw)  # type: ignore[arg-type]
    info = engine.run(spec)
    assert containers.wait(info.id, timeout=10).code == 0, engine.output(info.id)
    out = engine.output(info.id)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_setuid_works_and_clock_is_readable_not_settable(engine, probe_layer: Path) -> None:
    got = _run_probe(engine, probe_layer, "sec-default", user="app")
    assert got["euid"] == "0"  # setuid root took effect: no no_new_privs by default
    assert got["adjtimex_read"] == "ok"  # docker's profile allows the read
    # the write: allowed by seccomp, refused by the kernel without CAP_SYS_TIME
    assert got["adjtimex_write"] == "EPERM"
    assert got["clock_settime"] == "EPERM"
    assert got["settimeofday"] == "EPERM"
    assert got["keyctl"] == "EPERM"
    assert got["io_uring_setup"] == "EPERM"
    # allow-list: a syscall nobody listed is refused (runc answers ENOSYS for numbers above
    # every syscall it knows, so that libc falls back, as docker with runc does)
    assert got["unknown"] in ("EPERM", "ENOSYS")


def test_no_new_privileges_on_request(engine, probe_layer: Path) -> None:
    got = _run_probe(engine, probe_layer, "sec-nnp", user="app", no_new_privileges=True)
    assert got["euid"] == "1000"  # the setuid bit is ignored under no_new_privs
    assert got["adjtimex_read"] == "ok"


def test_status_shows_docker_defaults(engine) -> None:
    script = "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status"
    info = engine.run(engine.spec("sec-status", script))
    assert containers.wait(info.id, timeout=10).code == 0
    out = engine.output(info.id)
    assert "NoNewPrivs:\t0" in out and "Seccomp:\t2" in out
    info = engine.run(engine.spec("sec-unconfined", script, seccomp="unconfined",
                                  no_new_privileges=True))
    assert containers.wait(info.id, timeout=10).code == 0
    out = engine.output(info.id)
    assert "NoNewPrivs:\t1" in out and "Seccomp:\t0" in out
