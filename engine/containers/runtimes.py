"""OCI runtimes behind one protocol: the built-in one (``engine.runtime``) or runc/crun driven
through their command line over the same bundle.

``get_runtime()`` picks by ``PYCOMPOSE_RUNTIME`` = builtin | runc | crun (default builtin when
``engine.runtime.BuiltinRuntime`` is importable, else runc).
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Protocol, cast

from engine.errors import EngineError, MissingPrivilege, NotFound
from engine.paths import ensure_dir, ensure_spread_dir, state_root

log = logging.getLogger(__name__)

RUNTIME_ENV = "PYCOMPOSE_RUNTIME"


class Runtime(Protocol):
    """What the shim needs from an OCI runtime (the shape of the runc CLI)."""

    name: str

    def create(self, cid: str, bundle: Path, *, pid_file: Path | None = None,
               stdin: int | None = None, stdout: int | None = None, stderr: int | None = None,
               console_socket: Path | None = None) -> int: ...

    def start(self, cid: str) -> None: ...

    def state(self, cid: str) -> dict[str, Any]: ...

    def kill(self, cid: str, sig: int, *, all: bool = False) -> None: ...

    def pause(self, cid: str) -> None: ...

    def resume(self, cid: str) -> None: ...

    def exec(self, cid: str, process: dict[str, Any], *, stdin: int | None,
             stdout: int | None, stderr: int | None, tty: bool = False,
             console_socket: Path | None = None) -> int: ...

    def delete(self, cid: str, *, force: bool = False) -> None: ...


class OciCliRuntime:
    """runc or crun, one subprocess per operation, state under ``<state root>/oci/<name>``
    (``<state root>/runtime`` belongs to the built-in runtime).

    The runtime hands its own stdio to the container, so its error text is taken from
    ``--log`` (JSON lines) rather than from stderr.
    """

    def __init__(self, binary: str = "runc") -> None:
        path = shutil.which(binary)
        if path is None:
            raise MissingPrivilege(f"{binary} is not installed (apt-get install {binary})",
                                   step="runtime", obj=binary)
        self.name = binary
        self.binary = path
        self.root = oci_root(binary)
        self.prefix = _hide_hybrid_v2() if binary == "crun" else []

    def _run(self, step: str, cid: str, args: list[str], *, log_path: Path | None = None,
             stdin: int | None = None, stdout: int | None = None,
             stderr: int | None = None) -> str:
        ensure_spread_dir(self.root, 0o700)
        argv = [*self.prefix, self.binary, "--root", str(self.root)]
        if log_path is not None:
            argv += ["--log", str(log_path), "--log-format", "json"]
        capture = stdout is None
        proc = subprocess.run(argv + args,
                              stdin=subprocess.DEVNULL if stdin is None else stdin,
                              stdout=subprocess.PIPE if capture else stdout,
                              stderr=subprocess.PIPE if stderr is None else stderr,
                              close_fds=True)
        if proc.returncode != 0:
            text = _read(log_path) if log_path is not None else (proc.stderr or b"")
            raise _runtime_error(self.name, step, cid, text)
        return proc.stdout.decode() if capture else ""

    def create(self, cid: str, bundle: Path, *, pid_file: Path | None = None,
               stdin: int | None = None, stdout: int | None = None, stderr: int | None = None,
               console_socket: Path | None = None) -> int:
        """``runc create``: init is set up and waits for :meth:`start`; returns its host pid."""
        pid_file = pid_file or bundle / "init.pid"
        args = ["create", "--bundle", str(bundle), "--pid-file", str(pid_file)]
        if console_socket is not None:
            args += ["--console-socket", str(console_socket)]
        log_path = bundle / "runtime.log"
        log_path.unlink(missing_ok=True)
        null = os.open(os.devnull, os.O_RDWR)
        try:
            self._run("create", cid, [*args, cid], log_path=log_path,
                      stdin=null if stdin is None else stdin,
                      stdout=null if stdout is None else stdout,
                      stderr=null if stderr is None else stderr)
        finally:
            os.close(null)
        return int(pid_file.read_text().strip())

    def start(self, cid: str) -> None:
        """Let the created init exec the user process."""
        self._run("start", cid, ["start", cid])

    def state(self, cid: str) -> dict[str, Any]:
        """The OCI state JSON (status created|running|paused|stopped, pid, bundle)."""
        state: dict[str, Any] = json.loads(self._run("state", cid, ["state", cid]))
        return state

    def kill(self, cid: str, sig: int, *, all: bool = False) -> None:
        """Send ``sig`` to init (or every process of the container with ``all``)."""
        self._run("kill", cid, ["kill", *(["--all"] if all else []), cid, str(sig)])

    def pause(self, cid: str) -> None:
        """Freeze every process of the container (cgroup freezer)."""
        self._run("pause", cid, ["pause", cid])

    def resume(self, cid: str) -> None:
        """Thaw a paused container."""
        self._run("resume", cid, ["resume", cid])

    def exec(self, cid: str, process: dict[str, Any], *, stdin: int | None,
             stdout: int | None, stderr: int | None, tty: bool = False,
             console_socket: Path | None = None) -> int:
        """Start ``process`` (OCI process JSON) inside the container, detached; return its
        host pid. The caller, a subreaper, becomes its parent and reaps it. A terminal needs
        ``console_socket`` (the runtime sends the pty master there)."""
        exec_dir = ensure_dir(self.root / "exec", 0o700)
        tag = f"{cid[:12]}-{os.getpid()}-{os.urandom(4).hex()}"
        proc_file, pid_file = exec_dir / f"{tag}.json", exec_dir / f"{tag}.pid"
        log_path = exec_dir / f"{tag}.log"
        terminal = bool(process.get("terminal")) and console_socket is not None
        proc_file.write_text(json.dumps({**process, "terminal": terminal}))
        console = ["--console-socket", str(console_socket)] if terminal else []
        null = os.open(os.devnull, os.O_RDWR)
        try:
            self._run("exec", cid, ["exec", "--detach", "--pid-file", str(pid_file), *console,
                                    "--process", str(proc_file), cid],
                      log_path=log_path, stdin=null if stdin is None else stdin,
                      stdout=null if stdout is None else stdout,
                      stderr=null if stderr is None else stderr)
            return int(pid_file.read_text().strip())
        finally:
            os.close(null)
            for path in (proc_file, pid_file, log_path):
                path.unlink(missing_ok=True)

    def delete(self, cid: str, *, force: bool = False) -> None:
        """Remove the runtime's record and the container's cgroup."""
        self._run("delete", cid, ["delete", *(["--force"] if force else []), cid])


_UNIFIED = Path("/sys/fs/cgroup/unified")


def _hide_hybrid_v2() -> list[str]:
    """crun refuses hybrid cgroup hosts (v1 controllers + an empty v2 mount); run it in a
    private mount namespace without the v2 mount, where the host looks like plain v1."""
    if not _UNIFIED.is_mount():
        return []
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            f'umount {_UNIFIED} 2>/dev/null; exec "$0" "$@"']


def oci_root(binary: str) -> Path:
    """Where runc/crun keep their container state for this engine."""
    return state_root() / "oci" / binary


def runtime_knows(name: str, cid: str) -> bool:
    """True while runtime ``name`` still has state for ``cid`` (so delete has work to do)."""
    if name == "builtin":
        return (state_root() / "runtime" / cid).exists()
    return (oci_root(name) / cid).exists()


class ExecNotFound(EngineError):
    """The process to run does not exist in the container (docker exit code 127)."""

    exit_code = 127


class ExecNotExecutable(EngineError):
    """The process to run is not executable (docker exit code 126)."""

    exit_code = 126


def _runtime_error(name: str, step: str, cid: str, output: bytes) -> EngineError:
    text = _last_message(output.decode(errors="replace"))
    low = text.lower()
    obj = cid[:12]
    starting = "exec" in low or "container process" in low
    if "does not exist" in low and step != "create":
        return NotFound(f"{name}: container not known to the runtime", step=step, obj=obj)
    if "executable file not found" in low or ("no such file or directory" in low and starting):
        return ExecNotFound(f"{name}: {text}", step=step, obj=obj)
    if "permission denied" in low and starting:
        return ExecNotExecutable(f"{name}: {text}", step=step, obj=obj)
    return EngineError(f"{name}: {text}", step=step, obj=obj)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _last_message(text: str) -> str:
    """Keep the human part of the runtime's last error line (JSON log or plain text)."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if '"level":"error"' in ln]
    lines = errors or lines
    if not lines:
        return "failed (no message)"
    last = lines[-1]
    try:
        parsed = json.loads(last)
        return str(parsed.get("msg", last))
    except (ValueError, AttributeError):
        return last.removeprefix("ERRO[0000] ").strip()


def builtin_available() -> bool:
    """True when the built-in runtime (``engine.runtime.BuiltinRuntime``) can be imported."""
    try:
        importlib.import_module("engine.runtime").BuiltinRuntime  # noqa: B018
    except (ImportError, AttributeError):
        return False
    return True


class _LazyBuiltin:
    """The built-in runtime, imported on first use: a caller that only needs its name (``start``
    in the CLI records which runtime the shim will use) does not load seccomp, cgroups and the
    container init (tens of ms)."""

    name = "builtin"

    def __init__(self) -> None:
        self._real: Runtime | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._real is None:
            try:
                cls = importlib.import_module("engine.runtime").BuiltinRuntime
            except (ImportError, AttributeError) as exc:
                raise EngineError("the built-in runtime is not available", step="runtime",
                                  obj="builtin") from exc
            self._real = cls()
        return getattr(self._real, attr)


def get_runtime(name: str | None = None) -> Runtime:
    """Return the runtime named by ``name`` or ``PYCOMPOSE_RUNTIME`` (builtin|runc|crun)."""
    default = "builtin" if importlib.util.find_spec("engine.runtime") is not None else "runc"
    chosen = name or os.environ.get(RUNTIME_ENV) or default
    if chosen in ("runc", "crun"):
        return OciCliRuntime(chosen)
    if chosen == "builtin":
        return cast(Runtime, _LazyBuiltin())
    raise EngineError(f"unknown runtime {chosen!r} (builtin, runc or crun)", step="runtime",
                      obj=chosen)
