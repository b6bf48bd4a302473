from __future__ import annotations

from engine.images.builder.dockerignore import Matcher, parse_rules


def test_rules() -> None:
    m = Matcher(parse_rules("# comment\n*.log\n**/*.tmp\nbuild\n!build/keep.txt\n./docs/*.md\n"))
    assert m.excluded("a.log")
    assert not m.excluded("sub/a.log")  # '*' does not cross directories, like docker
    assert m.excluded("x/y/z.tmp") and m.excluded("z.tmp")
    assert m.excluded("build") and m.excluded("build/out.o")
    assert not m.excluded("build/keep.txt")
    assert m.excluded("docs/readme.md")
    assert not m.excluded("src/main.py")
    assert m.may_contain_included("build")
