"""Integration tests against a throwaway pycompose stack — the way you would use pycompose in
your own test suite. Nothing to write but the tests: the pycompose pytest plugin (installed
with pycompose) provides the fixtures.

- ``pycompose_project``: the stack of ``compose.yaml`` (see pytest.ini), built, up and
  healthy before the first test that uses it, taken down with its volumes after the last.
- ``pycompose_stack``: a fresh stack for one test, down when the test ends.

A failing test gets the stack's ``ps`` and the last 50 log lines of each service in its
report. Run (as root, after ``examples/images/prepare.sh``)::

    cd examples/stacks/testenv && pytest            # or pytest -n 2: two isolated copies
"""
from __future__ import annotations

import json
import socket
import urllib.request

from compose.api import Project
from compose.pytest_plugin import StackFactory


def get(stack: Project, path: str) -> dict[str, object]:
    host, port = stack.port("api", 8000)  # the published address of the API's port 8000
    with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as resp:
        data: dict[str, object] = json.load(resp)
        return data


def test_api_counts_hits_through_the_published_port(pycompose_project: Project) -> None:
    first = get(pycompose_project, "/hits")["hits"]
    assert isinstance(first, int)
    assert get(pycompose_project, "/hits")["hits"] == first + 1


def test_api_reaches_redis(pycompose_project: Project) -> None:
    assert get(pycompose_project, "/ping") == {"redis": True}


def test_redis_holds_what_the_api_counted(pycompose_project: Project) -> None:
    hits = get(pycompose_project, "/hits")["hits"]
    result = pycompose_project.exec("redis", ["redis-cli", "get", "hits"])
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == hits


def test_services_resolve_each_other_by_name(pycompose_project: Project) -> None:
    lookup = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"
    for src, dst in (("api", "redis"), ("redis", "api")):
        result = pycompose_project.exec(src, ["python3", "-c", lookup, dst])
        assert result.returncode == 0, result.stderr
        socket.inet_aton(result.stdout.strip())  # a plain IPv4 address


def test_unknown_names_do_not_resolve(pycompose_project: Project) -> None:
    result = pycompose_project.exec("api", ["getent", "hosts", "no-such-service"])
    assert result.returncode == 2  # getent: key not found


def test_a_fresh_redis_of_its_own(pycompose_stack: StackFactory) -> None:
    fresh = pycompose_stack(services=["redis"])  # only redis: a new, empty one
    assert [row.service for row in fresh.ps()] == ["redis"]
    assert fresh.exec("redis", ["redis-cli", "get", "hits"]).stdout.strip() == ""
