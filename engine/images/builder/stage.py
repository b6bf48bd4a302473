"""The state of one build stage and the instructions that only change image metadata."""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.images import layers
from engine.images.builder import shellvars
from engine.images.builder.errors import BuildError
from engine.images.builder.parser import Instruction
from engine.images.catalog import LayerBlob

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}


@dataclass(slots=True)
class StageState:
    """Mutable while a stage is being built; becomes an image config at the end."""

    name: str | None
    layers: list[LayerBlob] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    architecture: str = ""
    os: str = "linux"
    args: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"
    cmd_set: bool = False  # CMD given in this stage (ENTRYPOINT then keeps it)

    @property
    def layer_dirs(self) -> list[Path]:
        return [layers.layer_path(lb.diff_id) for lb in self.layers]

    @property
    def diff_ids(self) -> list[str]:
        return [lb.diff_id for lb in self.layers]

    def env(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.config.get("Env") or []:
            k, _, v = item.partition("=")
            out[k] = v
        return out

    def subst_env(self) -> dict[str, str]:
        """Variables for substitution: ARGs in scope, overridden by ENV."""
        return {**self.args, **self.env()}

    def run_env(self) -> list[str]:
        env = self.env()
        merged = {**{k: v for k, v in self.args.items() if k not in env}, **env}
        return [f"{k}={v}" for k, v in merged.items()]

    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.config)


def parse_duration(text: str, ins: Instruction, file: str) -> int:
    """Go-style duration (``30s``, ``1m30s``, ``500ms``) → nanoseconds."""
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise BuildError(f"invalid duration {text!r}", line=ins.line, file=file)
    return int(total)


def _set_env(state: StageState, key: str, value: str) -> None:
    env = [e for e in state.config.get("Env") or [] if e.partition("=")[0] != key]
    env.append(f"{key}={value}")
    state.config["Env"] = env


def command_form(state: StageState, ins: Instruction) -> list[str]:
    """Exec form as given, or the shell form wrapped in the stage's SHELL."""
    argv = ins.exec_form()
    return argv if argv is not None else state.shell() + [ins.args]


def apply_metadata(state: StageState, ins: Instruction, file: str) -> None:
    """Apply ENV, LABEL, CMD, ENTRYPOINT, EXPOSE, USER, VOLUME, STOPSIGNAL, SHELL,
    HEALTHCHECK or MAINTAINER to the stage config."""
    env = state.subst_env()
    try:
        _HANDLERS[ins.cmd](state, ins, env, file)
    except shellvars.SubstitutionError as exc:
        raise BuildError(str(exc), line=ins.line, file=file) from None


def _env(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    for key, value in shellvars.split_pairs(ins.args, env, state.escape):
        _set_env(state, key, value)
        env[key] = value


def _label(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    labels = dict(state.config.get("Labels") or {})
    labels.update(shellvars.split_pairs(ins.args, env, state.escape, legacy_ok=True))
    state.config["Labels"] = labels


def _maintainer(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    labels = dict(state.config.get("Labels") or {})
    labels["maintainer"] = ins.args
    state.config["Labels"] = labels


def _cmd(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    state.config["Cmd"] = command_form(state, ins)
    state.cmd_set = True


def _entrypoint(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    state.config["Entrypoint"] = command_form(state, ins)
    if not state.cmd_set:
        state.config.pop("Cmd", None)


def _expose(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    ports = dict(state.config.get("ExposedPorts") or {})
    for word in shellvars.lex(ins.args, env, state.escape):
        port, _, proto = word.partition("/")
        proto = (proto or "tcp").lower()
        lo, _, hi = port.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()) or proto not in ("tcp", "udp", "sctp"):
            raise BuildError(f"invalid port {word!r}", line=ins.line, file=file)
        for p in range(int(lo), int(hi or lo) + 1):
            ports[f"{p}/{proto}"] = {}
    state.config["ExposedPorts"] = ports


def _user(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    state.config["User"] = shellvars.expand(ins.args, env, state.escape)


def _volume(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    vols = dict(state.config.get("Volumes") or {})
    paths = ins.exec_form() or shellvars.lex(ins.args, env, state.escape)
    if not paths:
        raise BuildError("VOLUME needs at least one path", line=ins.line, file=file)
    for p in paths:
        vols[p] = {}
    state.config["Volumes"] = vols


def _stopsignal(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    state.config["StopSignal"] = shellvars.expand(ins.args, env, state.escape)


def _shell(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    argv = ins.exec_form()
    if not argv:
        raise BuildError('SHELL needs the JSON form, e.g. SHELL ["/bin/sh", "-c"]',
                         line=ins.line, file=file)
    state.config["Shell"] = argv


def _healthcheck(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    kind, _, rest = ins.args.partition(" ")
    if kind.upper() == "NONE":
        state.config["Healthcheck"] = {"Test": ["NONE"]}
        return
    if kind.upper() != "CMD" or not rest.strip():
        raise BuildError("HEALTHCHECK needs NONE or CMD <command>", line=ins.line, file=file)
    sub = Instruction("CMD", rest.strip(), ins.line, ins.original)
    argv = sub.exec_form()
    hc: dict[str, Any] = {"Test": ["CMD"] + argv if argv is not None else
                          ["CMD-SHELL", rest.strip()]}
    for flag, key in (("interval", "Interval"), ("timeout", "Timeout"),
                      ("start-period", "StartPeriod"), ("start-interval", "StartInterval")):
        if flag in ins.flags:
            hc[key] = parse_duration(ins.flags[flag], ins, file)
    if "retries" in ins.flags:
        if not ins.flags["retries"].isdigit():
            raise BuildError("--retries must be a number", line=ins.line, file=file)
        hc["Retries"] = int(ins.flags["retries"])
    state.config["Healthcheck"] = hc


def _onbuild(state: StageState, ins: Instruction, env: dict[str, str], file: str) -> None:
    state.config["OnBuild"] = [*(state.config.get("OnBuild") or []), ins.args]


_HANDLERS = {"ONBUILD": _onbuild, "ENV": _env, "LABEL": _label, "MAINTAINER": _maintainer,
             "CMD": _cmd,
             "ENTRYPOINT": _entrypoint, "EXPOSE": _expose, "USER": _user, "VOLUME": _volume,
             "STOPSIGNAL": _stopsignal, "SHELL": _shell, "HEALTHCHECK": _healthcheck}
METADATA = set(_HANDLERS)


def history_entry(ins: Instruction, empty: bool, created: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"created": created, "created_by": ins.original,
                             "comment": "pycompose build"}
    if empty:
        entry["empty_layer"] = True
    return entry


def config_document(state: StageState, created: str) -> dict[str, Any]:
    return {"architecture": state.architecture, "os": state.os, "created": created,
            "config": state.config, "history": state.history}


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
