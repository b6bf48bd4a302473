"""pytest plugin: throwaway pycompose stacks as fixtures (registered through the ``pytest11``
entry point, so installing pycompose is all it takes).

- ``pycompose_project`` (session): the project of ``pycompose_files`` — up and healthy before
  the first test that asks for it, down with its volumes after the last.
- ``pycompose_files`` (session): the compose files; override it in a ``conftest.py``, or set
  the ``pycompose_files`` ini option (paths relative to the ini file). Default:
  ``compose.yaml`` (or ``compose.yml``, ``docker-compose.y[a]ml``) in the rootdir.
- ``pycompose_stack`` (function): a factory, ``pycompose_stack(["a/compose.yaml"],
  services=["db"])`` returns an up :class:`compose.api.Project`, taken down after the test.

Every project gets a name unique to the session and the pytest-xdist worker, so parallel
sessions and ``-n N`` never collide. A failing test that used a stack gets the stack's ``ps``
and the last 50 log lines of each service as a report section. ``--pycompose-keep`` leaves
the stacks up (and prints how to reach and remove them); ``--pycompose-no-build`` uses the
images as they are instead of building.

Only the standard library and pytest are imported here: the plugin loads in every pytest run
of an environment where pycompose is installed.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from compose.api import Project

LOG_TAIL = 50
MAX_BASE = 16
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


class StackFactory(Protocol):
    """The type of the ``pycompose_stack`` fixture."""

    def __call__(self, files: Sequence[str | os.PathLike[str]] | None = None,
                 services: Sequence[str] | None = None, *, project_directory: str | None = None,
                 env_files: Sequence[str] = (), env: Mapping[str, str] | None = None,
                 profiles: Sequence[str] = (), timeout: float | None = None) -> Project: ...


@dataclass(slots=True)
class _Session:
    """What the plugin keeps per session: the name suffix, options, projects left up."""

    suffix: str
    keep: bool
    build: bool
    count: int = 0
    kept: list[Project] = field(default_factory=list)

    def unique(self, base: str) -> str:
        """``<base>-pt<hex>[-gwN][-n]``; the base is cut short because the project name ends up
        in unix socket paths under the state root (at most 107 bytes)."""
        base = base[:MAX_BASE].rstrip("-_") or "stack"
        self.count += 1
        return f"{base}-{self.suffix}" if self.count == 1 else f"{base}-{self.suffix}-{self.count}"


_SESSION = pytest.StashKey[_Session]()
_USED = pytest.StashKey[list["Project"]]()  # per test item: the stacks it used


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pycompose", "pycompose stacks")
    group.addoption("--pycompose-keep", action="store_true", default=False,
                    help="leave pycompose stacks up after the tests (prints how to reach and "
                         "remove them)")
    group.addoption("--pycompose-no-build", action="store_true", default=False,
                    help="do not build images of pycompose stacks; use them as they are")
    parser.addini("pycompose_files", type="paths", default=[],
                  help="compose files of the pycompose_project fixture (default: compose.yaml "
                       "in the rootdir)")


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    suffix = f"pt{secrets.token_hex(3)}" + (f"-{worker}" if worker else "")
    config.stash[_SESSION] = _Session(suffix, bool(config.getoption("pycompose_keep")),
                                      not config.getoption("pycompose_no_build"))


def _bring_up(session: _Session, files: Sequence[str | os.PathLike[str]],
              services: Sequence[str] | None = None, timeout: float | None = None,
              **inputs: object) -> Project:
    """Load the project under a unique name and bring it up; on failure show why (ps and
    logs in the failure message), take it down and fail the test."""
    from compose.api import ComposeFileError, Project, PycomposeError

    try:
        base = Project(files, **inputs).name  # type: ignore[arg-type]
        project = Project(files, name=session.unique(base), **inputs)  # type: ignore[arg-type]
    except ComposeFileError as exc:  # the CLI's one line, not a traceback through the plugin
        pytest.fail(f"pycompose: {exc}", pytrace=False)
    try:
        project.up(services, wait=True, build=session.build, timeout=timeout)
    except PycomposeError as exc:
        report = _diagnostics(project)
        _finish(session, project)
        pytest.fail(f"pycompose: {project.name} did not come up: {exc}\n{report}",
                    pytrace=False)
    except BaseException:  # Ctrl-C in the middle of up: no finalizer is registered yet
        _finish(session, project)
        raise
    return project


def _finish(session: _Session, project: Project) -> None:
    if session.keep:
        session.kept.append(project)
    else:
        project.down(volumes=True)


def _diagnostics(project: Project) -> str:
    try:
        return project.diagnostics(LOG_TAIL)
    except Exception as exc:  # a report must never hide the failure it explains
        return f"(no diagnostics: {exc})"


@pytest.fixture(scope="session")
def pycompose_files(pytestconfig: pytest.Config) -> list[str]:
    """The compose files of ``pycompose_project`` (override in a conftest.py)."""
    configured = pytestconfig.getini("pycompose_files")
    if configured:
        return [str(p) for p in configured]
    for name in DEFAULT_FILES:
        if (pytestconfig.rootpath / name).exists():
            return [str(pytestconfig.rootpath / name)]
    return [str(pytestconfig.rootpath / DEFAULT_FILES[0])]  # loading names the missing file


@pytest.fixture(scope="session")
def pycompose_project(pycompose_files: list[str], pytestconfig: pytest.Config
                      ) -> Iterator[Project]:
    """The session's stack (``pycompose_files``): up and healthy, down with volumes after
    the last test."""
    session = pytestconfig.stash[_SESSION]
    project = _bring_up(session, pycompose_files)
    yield project
    _finish(session, project)


@pytest.fixture
def pycompose_stack(request: pytest.FixtureRequest, pytestconfig: pytest.Config
                    ) -> Iterator[StackFactory]:
    """A factory of stacks for one test: ``pycompose_stack(files, services=None, ...)``
    returns an up Project (same inputs as :class:`compose.api.Project`); each is taken down
    when the test ends."""
    session = pytestconfig.stash[_SESSION]
    made: list[Project] = []

    def factory(files: Sequence[str | os.PathLike[str]] | None = None,
                services: Sequence[str] | None = None, *, project_directory: str | None = None,
                env_files: Sequence[str] = (), env: Mapping[str, str] | None = None,
                profiles: Sequence[str] = (), timeout: float | None = None) -> Project:
        if files is None:
            files = request.getfixturevalue("pycompose_files")
        project = _bring_up(session, files, services, timeout,
                            project_directory=project_directory, env_files=env_files,
                            env=env, profiles=profiles)
        made.append(project)
        request.node.stash.setdefault(_USED, []).append(project)
        return project

    yield factory
    for project in reversed(made):
        _finish(session, project)


def _used_stacks(item: pytest.Item) -> list[Project]:
    recorded: list[Project] = item.stash.get(_USED, [])
    used = list(recorded)
    funcargs: dict[str, object] = getattr(item, "funcargs", {})
    session_project = funcargs.get("pycompose_project")
    if session_project is not None:
        used.insert(0, session_project)  # type: ignore[arg-type]
    return used


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, object, None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and report.when in ("setup", "call"):
        for project in _used_stacks(item):
            report.sections.append((f"pycompose {project.name}: ps and last {LOG_TAIL} log "
                                    "lines", _diagnostics(project)))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is not None and not os.environ.get("PYTEST_XDIST_WORKER"):
        for line in _kept_lines(session):
            terminalreporter.write_line(line)


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown
def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker has no terminal of its own: its stderr is the controller's."""
    import sys

    state = session.config.stash.get(_SESSION, None)
    if state is not None and os.environ.get("PYTEST_XDIST_WORKER") and sys.__stderr__:
        sys.__stderr__.write("".join(f"{line}\n" for line in _kept_lines(state)))


def _kept_lines(session: _Session) -> list[str]:
    if not session.kept:
        return []
    root = os.environ.get("PYCOMPOSE_ROOT")
    env = f"PYCOMPOSE_ROOT={root} " if root else ""
    lines = ["pycompose: stacks left up (--pycompose-keep):"]
    for project in session.kept:
        lines += [f"  {project.name}: {_reach(project)}",
                  f"    inspect: {env}pycompose -p {project.name} ps",
                  f"    remove:  {env}pycompose -p {project.name} down -v"]
    return lines


def _reach(project: Project) -> str:
    """The published ports of the project's containers, ``service 127.0.0.1:49153->80/tcp``."""
    try:
        from engine import networks

        parts = [f"{row.service} {b.host_ip or '0.0.0.0'}:{b.host_port}->{b.container_port}/"
                 f"{b.protocol}" for row in project.ps() if row.running
                 for b in networks.published_ports(row.name)]
    except Exception as exc:  # the summary must not fail the run
        return f"(ports unknown: {exc})"
    return ", ".join(parts) or "no published ports"


__all__ = ["StackFactory", "pycompose_files", "pycompose_project", "pycompose_stack"]
