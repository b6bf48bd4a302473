"""Start-up discipline: the most frequent commands must not pull in modules they do not use
(their speed is measured in bench/; this guards the import set, so the cost cannot creep back).

Each command runs in a fresh interpreter, which then reports ``sys.modules``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support import fresh

SCRIPT = """
import sys
from compose.cli.main import main
code = main(sys.argv[1:])
modules = sorted(sys.modules)
import json
print(json.dumps({"code": code, "modules": modules}))
"""

COMPOSE = ("services:\n  a:\n    image: x\n    depends_on: [b]\n    ports: ['8080:80']\n"
           "  b:\n    image: y\n")

# Heavy for every command below: third-party packages the hot paths must not need.
HEAVY_PACKAGES = {"iptc", "pyroute2", "jsonschema", "networkx", "dns", "pydantic", "rich",
                  "asyncio", "multiprocessing", "ssl", "zstandard", "seccomp", "pyseccomp"}
# The engine's kernel-facing and network-facing modules (firewall, netlink, runtimes, shim,
# registry client) and the orchestrator's running parts.
HEAVY_MODULES = {
    "engine.networks.firewall", "engine.networks.link", "engine.networks.netlink",
    "engine.networks.network", "engine.networks.sandbox", "engine.networks.ports",
    "engine.networks.dns_control", "engine.containers.lifecycle", "engine.containers.shim",
    "engine.containers.shimd", "engine.containers.runtimes", "engine.containers.bundle",
    "engine.containers.rootfs", "engine.images.registry.client", "engine.images.archive",
    "engine.runtime.syscalls", "compose.orchestrator.supervisor", "compose.orchestrator.daemon",
    "compose.orchestrator.up", "compose.orchestrator.executor", "urllib.request",
}


def imported_by(*argv: str, cwd: Path, root: Path) -> set[str]:
    return run_cli(*argv, cwd=cwd, root=root)[0]


def run_cli(*argv: str, cwd: Path, root: Path) -> tuple[set[str], str]:
    """The modules loaded by one command line, and what it printed."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PYCOMPOSE_ROOT": str(root),
           "COLUMNS": "80"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, *argv], cwd=cwd, capture_output=True,
                         text=True, check=True, env=env)
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["code"] == 0, out.stderr
    return set(result["modules"]), "".join(out.stdout.splitlines(keepends=True)[:-1])


def heavy_in(modules: set[str]) -> set[str]:
    """The heavy modules among ``modules``; typer counts by its submodules (``typer`` itself is
    a stand-in that loads on first use, see compose.cli.lean)."""
    return ({m for m in modules if m.split(".")[0] in HEAVY_PACKAGES}
            | (modules & HEAVY_MODULES) | {m for m in modules if m.startswith("typer.")})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


def test_help_runs_on_the_standard_library_alone(project: Path) -> None:
    modules = imported_by("--help", cwd=project, root=project / "state")
    ours = {m for m in modules if m.split(".")[0] in ("compose", "engine", "schema")}
    assert ours == {"compose", "compose.cli", "compose.cli.main", "compose.cli.helptext"}
    assert not {"typer", "yaml", "logging", "sqlite3"} & {m.split(".")[0] for m in modules}


def test_config_imports_stay_light(project: Path) -> None:
    imported_by("config", "-q", cwd=project, root=project / "state")  # the caches in place
    modules = imported_by("config", "-q", cwd=project, root=project / "state")
    assert not heavy_in(modules)
    # the engine package only for the dataclass method and pattern caches every command
    # installs (and the stand-ins of engine.lazy dataclasses and logging are imported with)
    assert not any((m.split(".")[0] == "engine"
                    and m not in ("engine", "engine.dataclass_cache", "engine.regex_cache",
                                  "engine.lazy"))
                   or m.startswith("compose.orchestrator") for m in modules)
    # the lean parser evaluates annotations without an AST; nothing formats a traceback;
    # dataclasses' rare helpers stay unloaded (each a few ms of start-up); nothing is logged,
    # so logging (and threading) stay unloaded; typing is for the type checker (the commands'
    # Annotated: compose.cli.options); paths are strings (pathlib brings urllib.parse and
    # ipaddress: ~2.5 ms), and addresses are parsed only when a file has some
    assert not {"ast", "_ast", "traceback", "inspect", "copy", "logging", "threading",
                "typing", "pathlib", "urllib.parse", "ipaddress"} & modules
    # the schema is read parsed from its cache, YAML is written without json; the modules of
    # keys this file does not use stay unloaded
    assert not {"json", "compose.config.develop", "compose.config.include",
                "compose.config.extends", "compose.config.hookforms",
                "compose.config.model_options"} & modules
    assert "compose.config.fastschema" in modules  # validated, without jsonschema
    assert "compose.cli.commands.config" in modules
    assert "compose.cli.commands.graph" not in modules  # only the invoked command is built


def test_config_with_an_error_still_words_it_with_jsonschema(project: Path) -> None:
    (project / "compose.yaml").write_text("services:\n  a:\n    imagee: x\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "compose.cli.main", "config"], cwd=project,
                         capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert "compose.yaml:3:5: services.a: additional property 'imagee' is not allowed" in (
        out.stderr)


def test_ps_reads_the_store_only(project: Path) -> None:
    root = project / "state"
    _record_a_container(root)
    modules, printed = run_cli("ps", "-a", cwd=project, root=root)
    assert "p-a-1" in printed and "Created" in printed
    assert not heavy_in(modules)
    assert {"engine.containers.query", "engine.store"} <= modules  # it did read the rows
    assert "compose.cli.commands.up" not in modules


def _record_a_container(root: Path) -> None:
    """A created container row of project ``a``'s service ``a``, written the engine's way (in
    a child interpreter, so this test process keeps its own state root)."""
    code = ("from engine.containers import record, ContainerSpec\n"
            "record.insert('c' * 64, ContainerSpec(name='p-a-1', argv=('true',), labels={"
            "'com.docker.compose.project': os.path.basename(os.getcwd()),"
            "'com.docker.compose.service': 'a', 'com.docker.compose.container-number': '1'}))")
    env = {**os.environ, "PYCOMPOSE_ROOT": str(root), "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", "import os\n" + code], cwd=root.parent, env=env,
                   check=True)


def test_graph_does_not_need_networkx(project: Path) -> None:
    assert "networkx" not in imported_by("graph", cwd=project, root=project / "state")


LEAN_SCRIPT = """
import json, sys
from compose.cli import main
try:
    outcome = main._run_lean(sys.argv[1:])
except Exception as exc:  # the error is worded later, by the catch-all (which loads typer)
    outcome = type(exc).__name__
print(json.dumps({"outcome": outcome, "modules": sorted(sys.modules)}))
"""


def test_exec_finds_its_container_without_typer(project: Path) -> None:
    """``exec`` is parsed without typer and reaches the container look-up on the store alone
    (the container here is only created, so the command stops there with its own error)."""
    root = project / "state"
    _record_a_container(root)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PYCOMPOSE_ROOT": str(root)}
    out = subprocess.run([sys.executable, "-c", LEAN_SCRIPT, "exec", "-T", "a", "true"],
                         cwd=project, capture_output=True, text=True, check=True, env=env)
    result = json.loads(out.stdout.splitlines()[-1])
    modules = set(result["modules"])
    assert result["outcome"] == "ComposeError"  # not None: typer was not needed to parse
    assert "compose.cli.commands.exec" in modules and "engine.containers.query" in modules
    assert not heavy_in(modules)


CLIENT_SCRIPT = """
import sys
from compose.cli import warmclient
code = warmclient.run(sys.argv[1:])
print(code, " ".join(sorted(sys.modules)))
"""
# What the thin client may load besides the interpreter's own start-up modules.
CLIENT_MODULES = {"compose", "compose.cli", "compose.cli.warmclient", "engine", "engine.warm",
                  "_socket", "marshal", "signal", "_signal", "_blake2", "__future__"}


@contextmanager
def fake_engine(root: Path, reply: bytes, got: list[dict[str, object]]) -> Iterator[None]:
    """A warm engine for ``root`` (this test's thread) that takes one request, keeps it in
    ``got`` and answers ``reply``."""
    import socket
    import threading

    from engine import warm

    (root / "run").mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    warm.on_path(listener.bind, warm.address(str(root)))  # (a long tmp_path under xdist)
    listener.listen(1)

    def engine() -> None:
        conn, _ = listener.accept()
        with conn:
            request, fds = warm.recv_request(conn)  # type: ignore[arg-type]
            for fd in fds:
                os.close(fd)
            got.append(request)
            conn.sendall(reply)

    server = threading.Thread(target=engine, daemon=True)
    server.start()
    try:
        yield
    finally:
        server.join(10)
        listener.close()


def test_the_client_of_a_warm_engine_loads_next_to_nothing(tmp_path: Path) -> None:
    """A command handed to a warm engine costs the client a handful of modules: here a fake
    engine (this test) accepts the request and answers with an exit code."""
    root = tmp_path / "state"
    got: list[dict[str, object]] = []
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PYCOMPOSE_ROOT": str(root)}
    bare = subprocess.run([sys.executable, "-c", "import sys; print(' '.join(sys.modules))"],
                          capture_output=True, text=True, check=True, env=env).stdout.split()
    with fake_engine(root, b"P1\nX7\n", got):
        out = subprocess.run([sys.executable, "-c", CLIENT_SCRIPT, "ps", "-a"], cwd=tmp_path,
                             capture_output=True, text=True, check=True, env=env)
    code, *modules = out.stdout.split()
    assert code == "7"  # the engine's answer is the exit code
    assert got and got[0]["args"] == ["ps", "-a"] and got[0]["cwd"] == str(tmp_path)
    extra = set(modules) - set(bare)
    assert extra <= CLIENT_MODULES, sorted(extra - CLIENT_MODULES)


def test_the_installed_command_imports_no_more_than_the_client(tmp_path: Path) -> None:
    """The `pycompose` command itself is a plain script (compose/cli/bin/pycompose), not a
    console-script wrapper, which would import `re` (~7 ms) before anything else."""
    launcher = Path(sys.prefix) / "bin" / "pycompose"
    assert launcher.read_text().splitlines()[0].startswith("#!")  # installed by tests/setup.sh
    root = tmp_path / "state"
    env = {"PATH": "/usr/bin:/bin", "PYCOMPOSE_ROOT": str(root)}
    with fake_engine(root, b"P1\nX3\n", []):
        out = subprocess.run([sys.executable, "-X", "importtime", str(launcher), "ps"],
                             cwd=tmp_path, capture_output=True, text=True, env=env)
    assert out.returncode == 3, out.stderr[-2000:]  # the (fake) engine ran it
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines()
                if line.startswith("import time:")}
    assert "compose.cli.warmclient" in imported
    assert not imported & {"re", "compose.cli.app", "typer", "engine.paths"}, sorted(imported)


def test_an_engine_starts_on_little_and_spares_dataclasses_its_rare_imports() -> None:
    """The warm engine a cold command starts shares the CPU with that command: its own
    modules load neither ``dataclasses`` nor what that would bring (``inspect``, ``ast``),
    and ``dataclasses`` comes with stand-ins once the engine installs the method cache."""
    code = ("import sys\nimport compose.cli.warmserver\n"
            "print(' '.join(m for m in ('dataclasses', 'inspect', 'ast') if m in sys.modules))\n"
            "from engine import dataclass_cache\ndataclass_cache.install()\n"
            "print(type(sys.modules['dataclasses'].inspect).__name__)\n")
    out = fresh.run(code)
    assert out.stdout.splitlines() == ["", "OnFirstUse"]
