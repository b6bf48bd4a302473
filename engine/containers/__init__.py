"""Containers: spec → OCI bundle → runtime, with a lifecycle state machine (docker's dockerd +
containerd + containerd-shim roles; the runtime in ``engine.runtime`` plays runc).

Public API (everything else in this package is internal):

- value objects: :class:`ContainerSpec`, :class:`Mount`, :class:`MountType`, :class:`Resources`,
  :class:`NetworkMode`, :class:`ContainerInfo`, :class:`State`, :class:`ExitStatus`,
  :class:`LogLine`, :class:`Stats`, :class:`Process`
- lifecycle: ``create(spec) -> ContainerInfo``, ``start(cid)``, ``stop(cid, timeout=None)``,
  ``kill(cid, sig)``, ``pause(cid)``, ``unpause(cid)``, ``restart(cid, timeout=None)``,
  ``wait(cid, timeout=None) -> ExitStatus``, ``delete(cid, force=False)``
- queries: ``inspect(cid) -> ContainerInfo`` (cid may be an id, a unique id prefix or a name),
  ``list(labels=None, all=True) -> list[ContainerInfo]``
- ``exec(cid, argv, *, env=(), user="", workdir="", tty=False, stdin=None, stdout=None,
  stderr=None) -> int`` (exit code; stdio are file descriptors, default /dev/null),
  ``exec_output(..., timeout=None) -> tuple[int, bytes, bytes]`` (:class:`ExecTimeout` once
  the process and its group were killed past ``timeout``)
- ``attach(cid, AttachOptions(...)) -> int`` (exit code, or ``DETACHED``), ``parse_detach_keys``
- ``logs(cid, follow=False, since=None, tail=None) -> Iterator[LogLine]``, ``stats(cid)``,
  ``top(cid)``
- ``sweep()``: remove what a crash left behind (rows stuck in removing, objects without a row)
- ``run_build_step(*, layers, upper_dir, argv, env, working_dir, user, network) ->
  tuple[int, bytes]`` for the image builder's ``RUN``.

Design notes (details in each module's docstring):

- ``create`` only records (docker semantics); ``start`` mounts the OverlayFS rootfs, writes
  ``config.json`` and has the fork server (:mod:`.shimd`) start a detached per-container shim
  (:mod:`.shim`) that creates and starts the container through the runtime (:mod:`.runtimes`:
  builtin, runc or crun), records the start (holding the caller's container lock until then),
  logs its output, serves exec and records the exit. Waiting is waiting for the shim (pidfd),
  from any process.
- The runtime is chosen by ``PYCOMPOSE_RUNTIME`` (builtin|runc|crun) at ``start`` and recorded in
  the row; later operations use the recorded one.
- ``init: true`` bind-mounts Debian's ``tini-static`` at /sbin/docker-init (what docker does
  with its docker-init), so no binary has to exist in the image.
- Confinement (:mod:`.security`): docker's 14 capabilities, masked/read-only paths, device
  rules, and a deny-list seccomp profile whose groups are lifted by the matching cap_add.
- Every kernel object is named from the container id, so :func:`sweep` can clean up after a
  crash without any record of what was created.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

# Imported lazily (PEP 562): a command that only reads rows (``ps``) must not pay for the
# shim, the runtimes, the OCI bundle writer and the builder (tens of ms of imports).
_EXPORTS = {
    "engine.containers.attachment": ("DETACHED", "SHIM_GONE", "AttachOptions", "attach",
                                 "parse_detach_keys"),
    "engine.containers.execution": ("ExecTimeout",),
    "engine.containers.build": ("BUILD_LABEL", "run_build_step"),
    "engine.containers.inspection": ("exec", "exec_output", "logs", "stats", "top"),
    "engine.containers.lifecycle": ("create", "delete", "inspect", "kill", "note_restart",
                                    "pause", "restart", "start", "stop", "unpause", "wait"),
    "engine.containers.query": ("list_containers",),
    "engine.containers.runtimes": ("Runtime", "get_runtime"),
    "engine.containers.spec": ("ContainerInfo", "ContainerSpec", "DeviceMapping", "ExitStatus",
                               "LogLine", "Mount", "MountType", "NetworkMode", "Process",
                               "Resources", "State", "Stats"),
    "engine.containers.sweeping": ("sweep",),
}
# No exported name may also be a submodule's name: importing that submodule would set the
# package attribute to the module and shadow the export (tests/unit/containers: checked).
_ALIASES = {"list": "list_containers"}  # the public name mirrors `docker container ls`

if TYPE_CHECKING:
    from engine.containers.attachment import (
        DETACHED,
        SHIM_GONE,
        AttachOptions,
        attach,
        parse_detach_keys,
    )
    from engine.containers.build import BUILD_LABEL, run_build_step
    from engine.containers.execution import ExecTimeout
    from engine.containers.inspection import exec, exec_output, logs, stats, top
    from engine.containers.lifecycle import (
        create,
        delete,
        inspect,
        kill,
        note_restart,
        pause,
        restart,
        start,
        stop,
        unpause,
        wait,
    )
    from engine.containers.query import list_containers
    from engine.containers.runtimes import Runtime, get_runtime
    from engine.containers.spec import (
        ContainerInfo,
        ContainerSpec,
        DeviceMapping,
        ExitStatus,
        LogLine,
        Mount,
        MountType,
        NetworkMode,
        Process,
        Resources,
        State,
        Stats,
    )
    from engine.containers.sweeping import sweep

    list = list_containers  # noqa: A001


__getattr__ = lazy_exports(globals(), _EXPORTS, _ALIASES)


__all__ = [
    "BUILD_LABEL",
    "DETACHED",
    "SHIM_GONE",
    "AttachOptions",
    "ExecTimeout",
    "attach",
    "parse_detach_keys",
    "Runtime",
    "create",
    "delete",
    "exec",
    "exec_output",
    "get_runtime",
    "inspect",
    "kill",
    "list",
    "list_containers",
    "logs",
    "note_restart",
    "pause",
    "restart",
    "run_build_step",
    "start",
    "stats",
    "stop",
    "sweep",
    "top",
    "unpause",
    "wait",
    "ContainerInfo",
    "ContainerSpec",
    "DeviceMapping",
    "ExitStatus",
    "LogLine",
    "Mount",
    "MountType",
    "NetworkMode",
    "Process",
    "Resources",
    "State",
    "Stats",
]
