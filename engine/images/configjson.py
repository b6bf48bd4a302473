"""Translate between the OCI/docker image config JSON and :class:`ImageConfig`."""
from __future__ import annotations

from typing import Any

from engine.images.model import Healthcheck, ImageConfig


def _tup(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(str(v) for v in value)


def healthcheck_from_json(hc: dict[str, Any] | None) -> Healthcheck | None:
    if not hc:
        return None
    return Healthcheck(
        test=tuple(hc.get("Test") or ()),
        interval=int(hc.get("Interval") or 0),
        timeout=int(hc.get("Timeout") or 0),
        start_period=int(hc.get("StartPeriod") or 0),
        start_interval=int(hc.get("StartInterval") or 0),
        retries=int(hc.get("Retries") or 0),
    )


def config_from_json(cfg: dict[str, Any] | None) -> ImageConfig:
    """Build an :class:`ImageConfig` from the ``config`` object of an image config blob."""
    cfg = cfg or {}
    return ImageConfig(
        env=tuple(cfg.get("Env") or ()),
        cmd=_tup(cfg.get("Cmd")),
        entrypoint=_tup(cfg.get("Entrypoint")),
        working_dir=cfg.get("WorkingDir") or "",
        user=cfg.get("User") or "",
        exposed_ports=tuple(sorted((cfg.get("ExposedPorts") or {}).keys())),
        healthcheck=healthcheck_from_json(cfg.get("Healthcheck")),
        stop_signal=cfg.get("StopSignal") or "",
        volumes=tuple(sorted((cfg.get("Volumes") or {}).keys())),
        labels=tuple(sorted((cfg.get("Labels") or {}).items())),
        shell=_tup(cfg.get("Shell")),
        on_build=tuple(cfg.get("OnBuild") or ()),
    )


def config_to_json(c: ImageConfig) -> dict[str, Any]:
    """The ``config`` object for an image config blob (omitting empty fields, like docker)."""
    out: dict[str, Any] = {}
    if c.user:
        out["User"] = c.user
    if c.exposed_ports:
        out["ExposedPorts"] = {p: {} for p in c.exposed_ports}
    if c.env:
        out["Env"] = list(c.env)
    if c.entrypoint is not None:
        out["Entrypoint"] = list(c.entrypoint)
    if c.cmd is not None:
        out["Cmd"] = list(c.cmd)
    if c.healthcheck is not None:
        out["Healthcheck"] = _healthcheck_to_json(c.healthcheck)
    if c.volumes:
        out["Volumes"] = {v: {} for v in c.volumes}
    if c.working_dir:
        out["WorkingDir"] = c.working_dir
    if c.labels:
        out["Labels"] = dict(c.labels)
    if c.stop_signal:
        out["StopSignal"] = c.stop_signal
    if c.shell is not None:
        out["Shell"] = list(c.shell)
    if c.on_build:
        out["OnBuild"] = list(c.on_build)
    return out


def _healthcheck_to_json(hc: Healthcheck) -> dict[str, Any]:
    out: dict[str, Any] = {"Test": list(hc.test)}
    for key, value in (("Interval", hc.interval), ("Timeout", hc.timeout),
                       ("StartPeriod", hc.start_period), ("StartInterval", hc.start_interval),
                       ("Retries", hc.retries)):
        if value:
            out[key] = value
    return out
