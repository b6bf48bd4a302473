"""engine.dataclass_cache: dataclasses built from cached code behave exactly like compiled ones.

Each check runs in a fresh interpreter (installing the cache patches the process's
``dataclasses``), with the cache file in a temporary directory.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support import fresh

# Defines a few dataclasses the ways the code base does, then reports how they behave.
PROBE = """
import dataclasses, inspect, json, sys
from engine import dataclass_cache
dataclass_cache._PATH = sys.argv[1]
installed = dataclass_cache.install() if sys.argv[2] == "cache" else False

@dataclasses.dataclass(frozen=True, slots=True)
class Port:
    target: int
    published: str | None = None
    tags: tuple[str, ...] = ()
    extra: dict = dataclasses.field(default_factory=dict, compare=False)

@dataclasses.dataclass(order=True)
class Mutable:
    a: int = 1
    b: list = dataclasses.field(default_factory=list)

p, q = Port(80, "8080"), Port(80, "8080", extra={"x": 1})
try:
    p.target = 1
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
m = Mutable()
m.b.append(1)
out = {
    "installed": installed,
    "repr": [repr(p), repr(m)],
    "eq": p == q, "hash": hash(p) == hash(q), "frozen": frozen,
    "slots": hasattr(Port, "__slots__") and not hasattr(p, "__dict__"),
    "order": Mutable(1) < Mutable(2), "fresh_default": Mutable().b,
    "init_return": repr(inspect.signature(Port.__init__).return_annotation),
    "init_params": list(inspect.signature(Port).parameters),
    "replace": repr(dataclasses.replace(p, target=81)),
    "compiled_now": len(dataclass_cache._added),
}
if installed:
    dataclass_cache.save(sys.argv[1])
print(json.dumps(out))
"""


def probe(cache_file: Path, mode: str, env: dict[str, str] | None = None) -> dict[str, object]:
    return fresh.run_json(PROBE, str(cache_file), mode, env=env)


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "pycache" / "dataclass-methods.marshal"


def test_cached_classes_behave_like_compiled_ones(cache_file: Path) -> None:
    plain = probe(cache_file, "plain")
    first = probe(cache_file, "cache")  # compiles and writes the file
    assert first["installed"] is True and first["compiled_now"] != 0
    assert cache_file.is_file()
    second = probe(cache_file, "cache")  # everything from the file
    assert second["compiled_now"] == 0
    for result in (first, second):
        for key in plain:
            if key not in ("installed", "compiled_now"):
                assert result[key] == plain[key], key
    assert plain["init_return"] == "None"  # not the string 'None' (no __future__ leak)
    assert plain["eq"] and plain["hash"] and plain["frozen"] and plain["slots"]


def test_a_damaged_cache_file_is_ignored_and_replaced(cache_file: Path) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"\x00garbage")
    result = probe(cache_file, "cache")
    assert result["eq"] is True and result["compiled_now"] != 0
    assert probe(cache_file, "cache")["compiled_now"] == 0


def test_a_truncated_cache_file_is_ignored_and_replaced(cache_file: Path) -> None:
    """The index is read first and the blobs sliced on demand: an index pointing past the
    end of a cut file counts as no cache at all, never as a wrong code object."""
    assert probe(cache_file, "cache")["compiled_now"] != 0
    data = cache_file.read_bytes()
    cache_file.write_bytes(data[:len(data) - 100])
    result = probe(cache_file, "cache")
    assert result["eq"] is True and result["compiled_now"] != 0
    assert probe(cache_file, "cache")["compiled_now"] == 0


def test_nothing_is_written_at_exit_when_bytecode_writing_is_off(tmp_path: Path) -> None:
    code = ("import dataclasses, sys\nfrom engine import dataclass_cache\n"
            "dataclass_cache._PATH = sys.argv[1]\ndataclass_cache.install()\n"
            "@dataclasses.dataclass(frozen=True)\nclass A:\n    x: int = 0\n")
    target = tmp_path / "c.marshal"
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code, str(target)], check=True,
                   env={**base, "PYTHONDONTWRITEBYTECODE": "1"})
    assert not target.exists()
    subprocess.run([sys.executable, "-c", code, str(target)], check=True, env=base)
    assert target.is_file()


def test_the_cli_installs_it(tmp_path: Path) -> None:
    """The CLI front installs the cache before a command module loads (help excepted)."""
    code = ("import dataclasses, sys\nfrom compose.cli.main import main\n"
            "main(['version'])\nfrom engine import dataclass_cache\n"
            "print(dataclasses._create_fn is dataclass_cache._create_fn)")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYCOMPOSE_ROOT": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_inspect_and_copy_load_only_when_dataclasses_needs_them() -> None:
    """``dataclasses`` gets stand-ins for ``inspect`` and ``copy`` (~5 ms of imports in every
    interpreter); a class without a docstring and ``asdict`` of nested values still work, and
    load the real modules then."""
    code = ("import sys\nfrom engine import dataclass_cache\nimport dataclasses\n"
            "print('inspect' in sys.modules, 'copy' in sys.modules)\n"
            "@dataclasses.dataclass\nclass A:\n    x: int\n    y: list\n"
            "print(A.__doc__)\nprint(dataclasses.asdict(A(1, [[2]])))\n"
            "print(dataclasses.inspect is sys.modules['inspect'],"
            " dataclasses.copy is sys.modules['copy'])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert out.stdout.splitlines() == [
        "False False", "A(x: int, y: list)", "{'x': 1, 'y': [[2]]}", "True True"]


def test_a_stand_in_asked_while_dataclasses_loads_gives_the_real_module() -> None:
    """Another thread importing ``copy`` while ``dataclasses`` is being imported gets a
    stand-in; using it then loads the real module instead of recursing."""
    code = ("import sys\nfrom engine.lazy import OnFirstUse\n"
            "stand_in = sys.modules['copy'] = OnFirstUse('copy', 'dataclasses')\n"
            "sys.modules['dataclasses'] = type(sys)('dataclasses')\n"
            "print(stand_in.deepcopy([[1]]), sys.modules['copy'] is not stand_in)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert out.stdout.split() == ["[[1]]", "True"]
