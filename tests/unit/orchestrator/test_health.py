"""Healthcheck state machine (docker's semantics)."""
from __future__ import annotations

from compose.config.model import Healthcheck
from compose.orchestrator.health import (
    HealthConfig,
    HealthState,
    HealthStatus,
    ProbeResult,
    next_probe_delay,
    probe_argv,
    record_probe,
    resolve_healthcheck,
    timeout_result,
)


def fail(at: float, out: str = "nope") -> ProbeResult:
    return ProbeResult(1, out, at, at + 0.01)


def test_probe_argv_forms() -> None:
    assert probe_argv(["CMD", "pg_isready", "-U", "x"]) == ("pg_isready", "-U", "x")
    assert probe_argv(["CMD-SHELL", "curl -f http://x || exit 1"]) == (
        "/bin/sh", "-c", "curl -f http://x || exit 1")
    assert probe_argv("test -e /ready") == ("/bin/sh", "-c", "test -e /ready")
    assert probe_argv(["NONE"]) is None
    assert probe_argv(None) == ()


def test_defaults_and_image_fallback() -> None:
    image = {"Test": ["CMD-SHELL", "true"], "Interval": 2_000_000_000, "Retries": 7}
    cfg = resolve_healthcheck(None, image)
    assert cfg == HealthConfig(("/bin/sh", "-c", "true"), interval=2.0, retries=7)
    svc = Healthcheck(test=None, interval=0.5)  # no test: inherit the image's probe
    cfg = resolve_healthcheck(svc, image)
    assert cfg is not None and cfg.argv == ("/bin/sh", "-c", "true") and cfg.interval == 0.5
    assert cfg.timeout == 30.0 and cfg.start_interval == 5.0 and cfg.start_period == 0.0


def test_none_and_disable_turn_off_image_check() -> None:
    image = {"Test": ["CMD", "true"]}
    assert resolve_healthcheck(Healthcheck(test=("NONE",)), image) is None
    assert resolve_healthcheck(Healthcheck(disable=True), image) is None
    assert resolve_healthcheck(None, {}) is None


def test_retries_consecutive_failures_make_unhealthy() -> None:
    cfg = HealthConfig(("true",), retries=3)
    st = HealthState()
    for i in range(2):
        st = record_probe(st, cfg, fail(10.0 + i), container_started=0.0)
        assert st.status is HealthStatus.STARTING
    st = record_probe(st, cfg, fail(13.0, "refused"), container_started=0.0)
    assert st.status is HealthStatus.UNHEALTHY and st.last_output() == "refused"


def test_success_makes_healthy_and_resets_streak() -> None:
    cfg = HealthConfig(("true",), retries=2)
    st = record_probe(HealthState(), cfg, fail(1.0), 0.0)
    st = record_probe(st, cfg, ProbeResult(0, "ok", 2.0, 2.1), 0.0)
    assert st.status is HealthStatus.HEALTHY and st.failing_streak == 0
    st = record_probe(st, cfg, fail(3.0), 0.0)
    assert st.status is HealthStatus.HEALTHY and st.failing_streak == 1
    st = record_probe(st, cfg, fail(4.0), 0.0)
    assert st.status is HealthStatus.UNHEALTHY


def test_failures_in_start_period_do_not_count() -> None:
    cfg = HealthConfig(("true",), retries=1, start_period=10.0, start_interval=0.5)
    st = record_probe(HealthState(), cfg, fail(5.0), container_started=0.0)
    assert st.status is HealthStatus.STARTING and st.failing_streak == 0
    assert next_probe_delay(st, cfg, 5.0, 0.0) == 0.5
    assert next_probe_delay(st, cfg, 11.0, 0.0) == 30.0
    st = record_probe(st, cfg, fail(11.0), container_started=0.0)
    assert st.status is HealthStatus.UNHEALTHY


def test_output_truncated_and_log_bounded() -> None:
    cfg = HealthConfig(("true",), retries=100)
    st = HealthState()
    for i in range(8):
        st = record_probe(st, cfg, fail(float(i), "x" * 10_000), 0.0)
    assert len(st.log) == 5 and all(len(r.output) == 4096 for r in st.log)


def test_timeout_result_message() -> None:
    r = timeout_result(HealthConfig(("x",), timeout=2.0), 0.0, 2.0)
    assert r.exit_code == -1 and "exceeded timeout (2s)" in r.output
