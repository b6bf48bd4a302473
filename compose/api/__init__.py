"""pycompose's in-process Python API: a compose project as an object.

::

    from compose.api import Project

    with Project(["compose.yaml"], name="itest", env={"TAG": "1"}) as p:
        host, port = p.port("web", 80)              # published address of a container port
        r = p.exec("web", ["sh", "-c", "echo hi"])  # .returncode, .stdout, .stderr
        text = p.logs("web")                        # the service's output so far
        rows = p.ps()                               # .service .name .state .health .exit_code
        p.wait_healthy("db", timeout=30)            # woken by health events, no polling
        p.stop("web"); p.start("web"); p.restart("web")
        p.run("migrate", ["./migrate"], remove=True)  # one-off; same result shape as exec

Everything runs in this process on the embedded engine (no CLI subprocess, no Docker).
Errors are one hierarchy (see :mod:`compose.api.errors`), rooted at :class:`PycomposeError`,
whose messages are the lines the CLI prints. The pytest plugin (``compose.pytest_plugin``)
builds its fixtures on this API.
"""
from __future__ import annotations

from compose.api.errors import (
    ComposeFileError,
    EngineFailure,
    PycomposeError,
    ServiceError,
    StackError,
    UsageError,
    WaitTimeout,
)
from compose.api.project import Project
from compose.api.results import ContainerStatus, ExecResult, PortAddress

__all__ = [
    "ComposeFileError",
    "ContainerStatus",
    "EngineFailure",
    "ExecResult",
    "PortAddress",
    "Project",
    "PycomposeError",
    "ServiceError",
    "StackError",
    "UsageError",
    "WaitTimeout",
]
