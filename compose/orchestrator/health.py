"""Healthcheck state machine with docker's semantics (pure; the supervisor runs the probes).

- ``test``: ``["CMD", argv...]``, ``["CMD-SHELL", "cmd"]`` (run by ``/bin/sh -c``), a plain string
  (same as CMD-SHELL), ``["NONE"]`` or ``disable: true`` (no healthcheck); an empty/absent test
  inherits the image's HEALTHCHECK, as do unset timing fields.
- defaults: interval 30 s, timeout 30 s, retries 3, start_period 0, start_interval 5 s.
- status starts as ``starting``; a passing probe → ``healthy`` (streak reset); ``retries``
  consecutive failures → ``unhealthy``; while ``starting`` and inside ``start_period`` failures do
  not count, and probes run every ``start_interval``.
- a probe that runs past ``timeout`` is killed with its process group in the container (the
  engine does it, see ``engine.containers.exec_output``) and fails with exit code -1 and
  docker's "Health check exceeded timeout (Ns)"; output is kept to 4 KiB; the last 5 results
  are kept (docker's ``State.Health.Log``).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_START_PERIOD = 0.0
DEFAULT_START_INTERVAL = 5.0
MAX_OUTPUT = 4096
MAX_LOG = 5


class HealthStatus(enum.Enum):
    NONE = "none"
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """A resolved healthcheck; ``argv`` is what is executed in the container."""

    argv: tuple[str, ...]
    interval: float = DEFAULT_INTERVAL
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    start_period: float = DEFAULT_START_PERIOD
    start_interval: float = DEFAULT_START_INTERVAL


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One health probe's exit code, output and times."""
    exit_code: int
    output: str
    started: float
    ended: float


@dataclass(frozen=True, slots=True)
class HealthState:
    """Health of one container (immutable; :func:`record_probe` returns the next state)."""

    status: HealthStatus = HealthStatus.STARTING
    failing_streak: int = 0
    log: tuple[ProbeResult, ...] = field(default_factory=tuple)

    def last_output(self) -> str:
        """Output of the most recent probe (shown in ``ps`` and dependency errors)."""
        return self.log[-1].output.strip() if self.log else ""


def probe_argv(test: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """Turn a compose/image ``test`` into argv; None means "no healthcheck" (NONE);
    an empty tuple means "inherit"."""
    if test is None:
        return ()
    if isinstance(test, str):
        return ("/bin/sh", "-c", test) if test else ()
    if not test:
        return ()
    kind, rest = test[0], tuple(test[1:])
    if kind == "NONE":
        return None
    if kind == "CMD":
        return rest
    if kind == "CMD-SHELL":
        return ("/bin/sh", "-c", " ".join(rest))
    return ("/bin/sh", "-c", " ".join(test))  # a bare list: treated as a shell command line


def resolve_healthcheck(service: Any | None,
                        image: Any) -> HealthConfig | None:
    """Combine a service ``healthcheck`` (model object) with an image ``Healthcheck`` config.

    Returns None when the container has no healthcheck. Image durations are nanoseconds (OCI/
    docker image config), service durations float seconds.
    """
    image = _image_health_dict(image)
    if service is not None and service.disable:
        return None
    img_argv = probe_argv(image.get("Test"))
    argv = probe_argv(service.test) if service is not None else ()
    if argv == ():
        argv = img_argv
    if not argv:
        return None

    def pick(attr: str, key: str, default: float) -> float:
        value = getattr(service, attr, None) if service is not None else None
        if value is None and image.get(key):
            value = image[key] / 1e9
        return default if not value else float(value)

    retries = service.retries if service is not None and service.retries is not None else None
    return HealthConfig(
        argv=argv,
        interval=pick("interval", "Interval", DEFAULT_INTERVAL),
        timeout=pick("timeout", "Timeout", DEFAULT_TIMEOUT),
        retries=int(retries or image.get("Retries") or DEFAULT_RETRIES),
        start_period=pick("start_period", "StartPeriod", DEFAULT_START_PERIOD),
        start_interval=pick("start_interval", "StartInterval", DEFAULT_START_INTERVAL),
    )


def _image_health_dict(image: Any) -> Mapping[str, Any]:
    """Accept an image config ``Healthcheck`` as a docker-JSON mapping or an engine object."""
    if image is None:
        return {}
    if isinstance(image, Mapping):
        return image
    return {"Test": list(image.test), "Interval": image.interval, "Timeout": image.timeout,
            "Retries": image.retries, "StartPeriod": image.start_period,
            "StartInterval": image.start_interval}


def record_probe(state: HealthState, config: HealthConfig, result: ProbeResult,
                 container_started: float) -> HealthState:
    """Return the state after one probe (docker's rules, see the module docstring)."""
    result = replace(result, output=result.output[:MAX_OUTPUT])
    log = (state.log + (result,))[-MAX_LOG:]
    if result.exit_code == 0:
        return HealthState(HealthStatus.HEALTHY, 0, log)
    in_start_period = result.started - container_started < config.start_period
    if state.status is HealthStatus.STARTING and in_start_period:
        return HealthState(state.status, state.failing_streak, log)
    streak = state.failing_streak + 1
    status = HealthStatus.UNHEALTHY if streak >= config.retries else state.status
    return HealthState(status, streak, log)


def timeout_result(config: HealthConfig, started: float, ended: float) -> ProbeResult:
    """The result docker records for a probe that ran past its timeout."""
    return ProbeResult(-1, f"Health check exceeded timeout ({config.timeout:g}s)", started, ended)


def next_probe_delay(state: HealthState, config: HealthConfig, now: float,
                     container_started: float) -> float:
    """Seconds until the next probe: ``start_interval`` while starting inside the start
    period, else ``interval``."""
    in_start_period = now - container_started < config.start_period
    if state.status is HealthStatus.STARTING and in_start_period:
        return config.start_interval
    return config.interval
