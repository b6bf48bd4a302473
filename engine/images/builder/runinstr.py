"""The RUN instruction: its command (shell, exec or here-document form), its network, its
``--mount``s and ``--security``, and the cached layer it makes."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from engine.containers.spec import Mount, MountType
from engine.images import blobstore
from engine.images.builder import runmounts
from engine.images.builder.errors import BuildError
from engine.images.builder.parser import Instruction
from engine.images.builder.runstep import RunOptions, run_step
from engine.images.builder.stage import StageState, command_form

if TYPE_CHECKING:
    from engine.images.builder.build import Builder

NETWORKS = ("default", "none", "host")
PIPES = "/dev/pipes"  # where BuildKit puts a here-document script that has a #! line
_SOLE_HEREDOC = re.compile(r"^<<-?([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\1$")


def run_instruction(builder: Builder, state: StageState, ins: Instruction) -> None:
    """Execute one RUN: a cached layer of what the command changed."""
    network = _network(builder, ins)
    privileged = _security(builder, ins) or builder.spec.privileged
    mounts = [runmounts.parse_mount(m, ins, builder.file) for m in ins.mounts]
    argv, script = _argv(state, ins)
    key = ("RUN " + json.dumps(argv) + f" net={network} priv={privileged}"
           + (f" script={script}" if script else ""))
    extra = runmounts.cache_identity(builder, state, mounts, ins) if mounts else ""
    lower = state.layer_dirs

    def fill(upper: Path) -> None:
        with runmounts.prepare(builder, mounts, ins) as prepared:
            own = list(prepared.mounts)
            scratch = None
            if script is not None:
                scratch = Path(tempfile.mkdtemp(prefix=".script-", dir=blobstore.tmp_dir()))
                own.append(_script_mount(scratch, argv[0], script))
            try:
                opts = RunOptions(
                    env=tuple(state.run_env() + prepared.env),
                    workdir=state.config.get("WorkingDir") or "/",
                    user=state.config.get("User") or "",
                    network=builder.network.name() if network == "default" else network,
                    mounts=tuple(own), extra_hosts=builder.spec.extra_hosts,
                    shm_size=builder.spec.shm_size,
                    ulimits={n: (s, h) for n, s, h in builder.spec.ulimits},
                    privileged=privileged)
                run_step(lower, upper, argv, opts, ins, builder.file)
            finally:
                if scratch is not None:
                    shutil.rmtree(scratch, ignore_errors=True)

    builder.layer_step(state, ins, key, extra, fill)


def _network(builder: Builder, ins: Instruction) -> str:
    """``RUN --network`` wins over ``build.network``; host needs the build to allow it."""
    wanted = ins.flags.get("network") or builder.spec.network or "default"
    if wanted not in NETWORKS:
        raise BuildError(f"RUN --network={wanted}: expected default, none or host",
                         line=ins.line, file=builder.file)
    if wanted == "host" and "network" in ins.flags and builder.spec.network != "host" and \
            "network.host" not in builder.spec.entitlements:
        raise BuildError("RUN --network=host needs the build to allow it (build.network: "
                         "host or entitlements: [network.host])", line=ins.line,
                         file=builder.file)
    return wanted


def _security(builder: Builder, ins: Instruction) -> bool:
    mode = ins.flags.get("security", "sandbox")
    if mode == "sandbox":
        return False
    if mode != "insecure":
        raise BuildError(f"RUN --security={mode}: expected sandbox or insecure", line=ins.line,
                         file=builder.file)
    if "security.insecure" not in builder.spec.entitlements and not builder.spec.privileged:
        raise BuildError("RUN --security=insecure needs the build to allow it (build."
                         "privileged: true or entitlements: [security.insecure])",
                         line=ins.line, file=builder.file)
    return True


def _argv(state: StageState, ins: Instruction) -> tuple[list[str], str | None]:
    """The command and, for a sole here-document with a ``#!`` line, the script it runs."""
    if not ins.heredocs or ins.exec_form() is not None:
        return command_form(state, ins), None
    sole = _SOLE_HEREDOC.match(ins.args.strip())
    if sole and len(ins.heredocs) == 1:
        body = ins.heredocs[0].body
        if body.startswith("#!"):
            return [f"{PIPES}/{ins.heredocs[0].name}"], body
        return state.shell() + [body], None
    # A command that reads here-documents: the shell gets them as written.
    text = ins.args + "\n" + "".join(d.body + d.name + "\n" for d in ins.heredocs)
    return state.shell() + [text], None


def _script_mount(scratch: Path, target: str, body: str) -> Mount:
    path = scratch / "script"
    path.write_text(body)
    os.chmod(path, 0o755)
    return Mount(MountType.BIND, target, str(path), read_only=True)
