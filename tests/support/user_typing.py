"""Scripts a user would write against compose.api and the pytest plugin, for the typing tests
(tests/unit/api/test_typing.py, tests/unit/test_packaging.py): the good one must pass
``mypy --strict``; each line of the bad one must be reported."""
from __future__ import annotations

GOOD = '''
from __future__ import annotations

from compose.api import ContainerStatus, ExecResult, Project, PycomposeError, WaitTimeout
from compose.pytest_plugin import StackFactory


def smoke(files: list[str]) -> int:
    try:
        with Project(files, name="itest", env={"TAG": "1"}, profiles=[]) as p:
            host, port = p.port("web", 80)
            url: str = f"http://{host}:{port + 0}/"
            r: ExecResult = p.exec("web", ["sh", "-c", "echo hi"])
            text: str = p.logs("web", tail=10)
            rows: list[ContainerStatus] = p.ps()
            health: str | None = rows[0].health
            code: int | None = rows[0].exit_code
            p.wait_healthy("db", timeout=30)
            p.stop("web"); p.start("web"); p.restart("web", timeout=1.5)
            m: ExecResult = p.run("migrate", ["./migrate"], remove=True)
            p.up(["web"], wait=True, build=False, pull="never", timeout=None)
            p.down(volumes=True, timeout=None)
            return r.returncode + m.returncode + len(text + url) + len(str(health) + str(code))
    except WaitTimeout as exc:
        return len(exc.failures)
    except PycomposeError as exc:
        return len(exc.message)


def with_plugin(pycompose_stack: StackFactory, pycompose_project: Project) -> str:
    other = pycompose_stack(["other/compose.yaml"], services=["db"])
    return other.name + pycompose_project.name
'''

BAD = '''
from compose.api import Project

p = Project(["compose.yaml"])
port: str = p.port("web", 80).port
p.exec("web", 42)
p.up(wait="yes")
code: str = p.exec("web", ["true"]).returncode
'''
