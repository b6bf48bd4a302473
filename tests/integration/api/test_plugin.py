"""The pytest plugin, run by pytester in a subprocess as a user's suite would run it (the
plugin comes from the installed ``pytest11`` entry point): session stack, failure report,
factory, --pycompose-keep, ini option, two isolated copies with pytest-xdist ``-n 2``."""
from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose.api import Project
from tests.e2e.cli import import_busybox, leftovers
from tests.integration.api.conftest import IMAGE, SLEEPER, Stack

pytestmark = pytest.mark.root

COMPOSE = f"""
name: plug
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "echo db-says-hello; touch /tmp/ready; {SLEEPER}"]
    healthcheck: {{test: ["CMD", "test", "-e", "/tmp/ready"], interval: 100ms, retries: 50}}
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo web-line-1; echo web-line-2; {SLEEPER}"]
    ports: ["127.0.0.1::8080"]
    depends_on: {{db: {{condition: service_healthy}}}}
"""


@pytest.fixture
def user_suite(pytester: pytest.Pytester, busybox_rootfs: Path, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.Pytester]:
    """A user's project directory (compose.yaml next to the rootdir) over a private state root
    holding the test image. The root is short (/tmp/pcpXXXX): project names end up in unix
    socket paths under it, which may not exceed 107 bytes."""
    root = Path(tempfile.mkdtemp(prefix="pcp", dir="/tmp"))
    import_busybox(root, busybox_rootfs, tmp_path)
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(root))
    pytester.makefile(".yaml", compose=COMPOSE)
    pytester.makeini("[pytest]\n")
    yield pytester
    shutil.rmtree(root, ignore_errors=True)


def nothing_left(root: Path, names: set[str]) -> None:
    assert names, "no project name seen"
    for name in names:
        assert leftovers(Stack(root, root, name)) == [], name


def state_root(suite: pytest.Pytester) -> Path:
    import os

    return Path(os.environ["PYCOMPOSE_ROOT"])


def test_session_stack_and_failure_report(user_suite: pytest.Pytester) -> None:
    user_suite.makepyfile(test_user="""
        def test_up_and_healthy(pycompose_project):
            rows = {r.service: r for r in pycompose_project.ps()}
            assert rows["db"].health == "healthy" and rows["web"].running
            print("PROJECT", pycompose_project.name)

        def test_fails(pycompose_project):
            assert pycompose_project.exec("web", ["true"]).returncode == 1

        def test_without_stack():
            assert False
    """)
    result = user_suite.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    (name,) = set(re.findall(r"PROJECT (plug-pt[0-9a-f]{6})", out))
    # the failing test that used the stack carries its ps and logs; the other one does not
    section = re.search(rf"-+ pycompose {name}: ps and last 50 log lines -+\n(.*?)\n(?:=|_)",
                        out, re.S)
    assert section, out
    report = section.group(1)
    assert f"{name}-web-1" in report and "healthy" in report
    assert "web-line-2" in report and "db-says-hello" in report
    assert out.count("ps and last 50 log lines") == 1
    nothing_left(state_root(user_suite), {name})


def test_factory_keep_and_ini_option(user_suite: pytest.Pytester) -> None:
    (user_suite.path / "stack").mkdir()
    (user_suite.path / "compose.yaml").rename(user_suite.path / "stack" / "compose.yaml")
    user_suite.makeini("[pytest]\npycompose_files = stack/compose.yaml\n")
    user_suite.makepyfile(test_user="""
        def test_factory(pycompose_stack, pycompose_files):
            one = pycompose_stack(services=["db"])
            two = pycompose_stack(pycompose_files)
            assert one.name != two.name
            assert [r.service for r in one.ps()] == ["db"]
            host, port = two.port("web", 8080)
            print("STACKS", one.name, two.name, host, port)
    """)
    result = user_suite.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--pycompose-keep")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    names = set(re.findall(r"STACKS (\S+) (\S+)", out)[0])
    assert "stacks left up (--pycompose-keep)" in out
    for name in names:  # left up, and the summary says how to reach and remove them
        assert re.search(rf"pycompose -p {name} down -v", out), out
        p = Project([user_suite.path / "stack" / "compose.yaml"], name=name)
        assert p.ps(), f"{name} was not kept"
        p.down()
    assert re.search(r"web 127\.0\.0\.1:\d+->8080/tcp", out), out
    nothing_left(state_root(user_suite), names)


def test_xdist_runs_isolated_copies(user_suite: pytest.Pytester) -> None:
    user_suite.makepyfile(test_user="""
        import pytest

        @pytest.mark.parametrize("token", ["alpha", "beta", "gamma", "delta"])
        def test_own_copy(pycompose_project, token, worker_id):
            p = pycompose_project
            assert all(r.name.startswith(p.name + "-") for r in p.ps())
            assert p.exec("db", ["sh", "-c", f"echo {token} >> /tmp/seen"]).returncode == 0
            seen = p.exec("db", ["cat", "/tmp/seen"]).stdout.split()
            print("COPY", worker_id, p.name, p.port("web", 8080).port, " ".join(seen))
    """)
    # --dist each: both workers run every test, each on its own copy, at the same time
    result = user_suite.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                             "--dist", "each", "-rA")
    result.assert_outcomes(passed=8)
    rows = re.findall(r"COPY (gw\d) (\S+) (\d+) ([a-z ]+)", result.stdout.str())
    assert len(rows) == 8, result.stdout.str()
    names = {(worker, name) for worker, name, _, _ in rows}
    assert len(names) == 2 and len({n for _, n in names}) == 2, rows  # a project per worker
    assert all(name.endswith(worker) for worker, name in names)
    assert len({port for _, _, port, _ in rows}) == 2  # each copy published its own port
    for _, _, _, seen in rows:  # a copy only ever sees the tokens its own tests wrote
        assert len(seen.split()) == len(set(seen.split())), rows
    nothing_left(state_root(user_suite), {n for _, n in names})


README_STACK = f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "touch /tmp/ready; {SLEEPER}"]
    healthcheck: {{test: ["CMD", "test", "-e", "/tmp/ready"], interval: 100ms, retries: 50}}
  web:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /www; echo hello > /www/index.html;
              httpd -f -p 80 -h /www & {SLEEPER}"]
    ports: ["80"]
    depends_on: [db]
"""


def test_readme_example_runs_as_written(user_suite: pytest.Pytester) -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme.split("## Testing with pycompose", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) < 15
    user_suite.makefile(".yaml", compose=README_STACK)
    user_suite.makepyfile(test_readme=code)
    result = user_suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_compose_mistake_fails_with_the_cli_line(user_suite: pytest.Pytester) -> None:
    user_suite.makefile(".yaml", compose="services:\n  web:\n    image: x\n    bogus: 1\n")
    user_suite.makepyfile(test_user="def test_it(pycompose_project):\n    pass\n")
    result = user_suite.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*pycompose: *compose.yaml:4:5: *bogus*"])
    assert "Traceback" not in result.stdout.str()


def test_no_build_uses_images_as_they_are(user_suite: pytest.Pytester) -> None:
    (user_suite.path / "img").mkdir()
    (user_suite.path / "img" / "Dockerfile").write_text(
        f"FROM {IMAGE}\nRUN echo built > /built\n")
    user_suite.makefile(".yaml", compose=f"""
name: nob
services:
  web:
    image: nob/web:1
    build: img
    pull_policy: never
    command: ["sh", "-c", "{SLEEPER}"]
""")
    user_suite.makepyfile(test_user="""
        def test_built(pycompose_project):
            assert pycompose_project.exec("web", ["cat", "/built"]).stdout == "built\\n"
    """)
    skipped = user_suite.runpytest_subprocess("-p", "no:cacheprovider", "--pycompose-no-build")
    skipped.assert_outcomes(errors=1)  # not built, and never pulled: no image to run
    skipped.stdout.fnmatch_lines(["*did not come up*nob/web:1*"])
    built = user_suite.runpytest_subprocess("-p", "no:cacheprovider")
    built.assert_outcomes(passed=1)
    again = user_suite.runpytest_subprocess("-p", "no:cacheprovider", "--pycompose-no-build")
    again.assert_outcomes(passed=1)  # the image exists now: used as it is
    nothing_left(state_root(user_suite), {"nob"})
