"""engine.regex_cache: patterns built from cached code behave exactly like compiled ones.

Each check runs in a fresh interpreter (installing the cache patches the process's ``re``),
with the cache file in a temporary directory."""
from __future__ import annotations

import marshal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.support import fresh

# Compiles patterns of many kinds, then reports how they behave.
PROBE = """
import json, re, sys
from engine import regex_cache
regex_cache._PATH = sys.argv[1]
installed = regex_cache.install() if sys.argv[2] == "cache" else False
cases = [
    (r"^(?P<key>[a-z_]+)\\s*=\\s*(?P<value>.*?)\\s*$", 0, "  name = web  "),
    (r"^(?:\\s*(\\w+)\\s*\\.)?\\s*(\\w+)", 0, "typing . ClassVar"),
    (r"[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?", re.X, "+1_0.5e-3"),
    (r"(?i)straße|ΣΊΣΥΦΟΣ", 0, "STRASSE σίσυφος"),
    (r"(?<=\\$\\{)[^}]+(?=\\})", 0, "image: ${TAG}"),
    (r"a.c", re.S | re.A, "a\\nc"),
    (rb"^\\x00[\\x01-\\x7f]+$", 0, b"\\x00abc"),
    (r"(a)(b)?(?P<c>c)", 0, "ac"),
]
out = {"installed": installed, "results": []}
for pattern, flags, text in cases:
    p = re.compile(pattern, flags)
    m = p.search(text)
    groups = None if m is None else [g if not isinstance(g, bytes) else g.hex() for g in m.groups()]
    out["results"].append([
        p.pattern if isinstance(p.pattern, str) else p.pattern.hex(), int(p.flags), p.groups,
        dict(p.groupindex), groups, None if m is None else m.span(),
        len(p.findall(text)), str(type(p).__name__)])
out["compiled_now"] = len(regex_cache._added)
if installed:
    regex_cache.save(sys.argv[1])
print(json.dumps(out))
"""


def probe(cache_file: Path, mode: str, env: dict[str, str] | None = None) -> dict[str, object]:
    return fresh.run_json(PROBE, str(cache_file), mode, env=env)


@pytest.fixture
def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "pycache" / "regex-code.marshal"


def test_cached_patterns_behave_like_compiled_ones(cache_file: Path) -> None:
    plain = probe(cache_file, "plain")
    first = probe(cache_file, "cache")  # compiles and writes the file
    assert first["installed"] is True and first["compiled_now"] != 0
    assert cache_file.is_file()
    second = probe(cache_file, "cache")  # everything from the file
    assert second["compiled_now"] == 0
    assert first["results"] == plain["results"]
    assert second["results"] == plain["results"]


def test_a_damaged_or_foreign_cache_file_is_ignored_and_replaced(cache_file: Path) -> None:
    cache_file.parent.mkdir(parents=True)
    cache_file.write_bytes(b"\x00garbage")
    plain = probe(cache_file, "plain")
    result = probe(cache_file, "cache")
    assert result["results"] == plain["results"] and result["compiled_now"] != 0
    assert probe(cache_file, "cache")["compiled_now"] == 0
    # made for another _sre (its code format) or interpreter: not used
    (form, magic, version), entries = marshal.loads(cache_file.read_bytes())
    cache_file.write_bytes(marshal.dumps(((form, magic, version - 1), entries)))
    result = probe(cache_file, "cache")
    assert result["results"] == plain["results"] and result["compiled_now"] != 0


def test_nothing_is_written_at_exit_when_bytecode_writing_is_off(tmp_path: Path) -> None:
    code = ("import re, sys\nfrom engine import regex_cache\n"
            "regex_cache._PATH = sys.argv[1]\nregex_cache.install()\n"
            "re.compile(r'^pycompose-[0-9]+$')\n")
    target = tmp_path / "r.marshal"
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code, str(target)], check=True,
                   env={**base, "PYTHONDONTWRITEBYTECODE": "1"})
    assert not target.exists()
    subprocess.run([sys.executable, "-c", code, str(target)], check=True, env=base)
    assert (False, "^pycompose-[0-9]+$", 0) in marshal.loads(target.read_bytes())[1]


def test_the_cli_installs_it(tmp_path: Path) -> None:
    """The CLI front installs the cache before anything compiles a pattern (help excepted)."""
    code = ("import sys\nfrom compose.cli.main import main\n"
            "main(['version'])\nimport re\nfrom engine import regex_cache\n"
            "print(re._compiler.compile is regex_cache._compile)")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "PYCOMPOSE_ROOT": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_the_same_text_as_str_and_bytes_and_a_str_subclass(tmp_path: Path) -> None:
    """``"ab+"`` and ``b"ab+"`` hash alike: their entries are told apart by type first (no
    str/bytes comparison: ``-bb`` makes one an error); a subclass of str is compiled as usual
    and left out of the file (marshal refuses it)."""
    code = ("import re, sys\nfrom engine import regex_cache\n"
            "regex_cache._PATH = sys.argv[1]\nregex_cache.install()\n"
            "class S(str):\n    pass\n"
            "print(re.compile('ab+').match('abb').group(),"
            " repr(re.compile(b'ab+').match(b'abb').group()),"
            " re.compile(S('x+')).match('xx').group())\n"
            "regex_cache.save()\n"
            "texts = {False: 'ab+', True: b'ab+'}\n"
            "print(sorted(k[0] for k in regex_cache._load(sys.argv[1]) if k[1] == texts[k[0]]))\n")
    target = tmp_path / "r.marshal"
    for _ in range(2):  # compiled, then from the file
        out = subprocess.run([sys.executable, "-bb", "-W", "error", "-c", code, str(target)],
                             capture_output=True, text=True, check=True,
                             env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
        assert out.stdout.splitlines() == ["abb b'abb' xx", "[False, True]"], out.stderr
