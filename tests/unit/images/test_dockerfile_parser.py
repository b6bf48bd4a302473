from __future__ import annotations

import pytest

from engine.images.builder.errors import BuildError
from engine.images.builder.parser import parse
from engine.images.builder.shellvars import SubstitutionError, expand, lex, split_pairs


def test_continuations_comments_and_flags() -> None:
    df = parse("# syntax=docker/dockerfile:1\n"
               "FROM scratch AS base\n"
               "# a comment\n"
               "RUN echo a \\\n"
               "  # comment inside\n"
               "  && echo b\n"
               "COPY --from=base --chown=1:2 a b\n")
    cmds = [(i.cmd, i.line) for i in df.instructions]
    assert cmds == [("FROM", 2), ("RUN", 4), ("COPY", 7)]
    assert df.instructions[1].args == "echo a  && echo b"
    assert df.instructions[2].flags == {"from": "base", "chown": "1:2"}
    assert df.instructions[2].args == "a b"


def test_escape_directive() -> None:
    df = parse("# escape=`\nFROM scratch\nRUN a `\n b\n")
    assert df.escape == "`"
    assert df.instructions[1].args == "a  b"


def test_exec_form() -> None:
    df = parse('FROM scratch\nCMD ["a", "b c"]\nCMD a b\nCMD [not json\n')
    assert df.instructions[1].exec_form() == ["a", "b c"]
    assert df.instructions[2].exec_form() is None
    assert df.instructions[3].exec_form() is None


@pytest.mark.parametrize(("text", "line", "what"), [
    ("FROM scratch\nFOO bar\n", 2, "unknown instruction"),
    ("FROM scratch\nRUN --security=insecure true\n", 2, "RUN --security"),
    ("FROM scratch\nONBUILD FROM x\n", 2, "ONBUILD FROM"),
    ("FROM scratch\nCOPY --parents a b\n", 2, "COPY --parents"),
    ("FROM scratch\nCOPY <<EOF /x\nx\nEOF\n", 2, "COPY heredocs"),
    ("FROM scratch\nRUN <<EOF\nx\n", 2, "not closed"),
])
def test_errors_name_the_line(text: str, line: int, what: str) -> None:
    with pytest.raises(BuildError, match=what) as info:
        parse(text)
    assert info.value.line == line
    assert f"Dockerfile:{line}" in str(info.value)


def test_empty_dockerfile() -> None:
    with pytest.raises(BuildError, match="no instructions"):
        parse("# just a comment\n\n")


def test_substitution() -> None:
    env = {"A": "x", "EMPTY": ""}
    assert expand("$A-${A}", env) == "x-x"
    assert expand("${B:-def}", env) == "def"
    assert expand("${EMPTY:-def}", env) == "def"
    assert expand("${EMPTY-def}", env) == ""
    assert expand("${A:+alt}", env) == "alt"
    assert expand("${B:+alt}", env) == ""
    assert expand("'$A'", env) == "$A"
    assert expand("\\$A", env) == "$A"
    assert lex('a "b c" $A', env) == ["a", "b c", "x"]
    with pytest.raises(SubstitutionError):
        expand("${A", env)


def test_pairs() -> None:
    assert split_pairs('A=1 B="two words" C=$X', {"X": "y"}) == [
        ("A", "1"), ("B", "two words"), ("C", "y")]
    assert split_pairs("KEY some value", {}) == [("KEY", "some value")]


def test_run_heredocs_are_read_and_become_shell_scripts() -> None:
    from engine.images.builder.stage import StageState, command_form

    df = parse("FROM scratch\nRUN <<EOF\necho $HOME\nmkdir /x\nEOF\n"
               "RUN cat > /f <<-'END' && echo done\n\tkeep $X\n\tEND\n"
               "RUN <<PY\n#!/usr/bin/env python3\nprint(1)\nPY\nCMD [\"x\"]\n")
    run1, run2, run3, cmd = df.instructions[1:]
    assert run1.heredocs[0].body == "echo $HOME\nmkdir /x\n" and not run1.heredocs[0].quoted
    assert run2.heredocs[0].quoted and run2.heredocs[0].body == "keep $X\n"
    assert cmd.cmd == "CMD" and cmd.line == 13  # parsing resumes after the bodies
    state = StageState.__new__(StageState)
    state.config = {}
    assert command_form(state, run1) == ["/bin/sh", "-c", "echo $HOME\nmkdir /x\n"]
    assert command_form(state, run2) == [
        "/bin/sh", "-c", "cat > /f <<-'END' && echo done\nkeep $X\nEND"]
    assert command_form(state, run3) == ["/usr/bin/env", "python3", "-c",
                                         "#!/usr/bin/env python3\nprint(1)\n"]
