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
    ("FROM scratch\nRUN --mount true\n", 2, "RUN --mount needs a value"),
    ("FROM scratch\nONBUILD ONBUILD RUN x\n", 2, "ONBUILD ONBUILD is not allowed"),
    ("FROM scratch\nONBUILD FROM x\n", 2, "ONBUILD FROM is not allowed"),
    ("FROM scratch\nONBUILD BOGUS x\n", 2, "unknown instruction"),
    ("FROM scratch\nCOPY --parents a b\n", 2, "COPY --parents"),
    ("FROM scratch\nRUN <<EOF\nx\nEOX\n", 2, "not terminated"),
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


def test_heredocs_collect_bodies_in_order() -> None:
    df = parse("FROM scratch\nRUN <<EOF\necho a\necho b\nEOF\n"
               "COPY <<one <<'two' /dst/\n1 $X\none\n2 $X\ntwo\n"
               "RUN <<-EOF\n\t\tindented\n\tEOF\nCMD done\n")
    run, copy, chomped, cmd = df.instructions[1:]
    assert run.args == "<<EOF" and run.heredocs[0].body == "echo a\necho b\n"
    assert [(d.name, d.body, d.expand) for d in copy.heredocs] == [
        ("one", "1 $X\n", True), ("two", "2 $X\n", False)]
    assert chomped.heredocs[0].body == "indented\n" and chomped.heredocs[0].chomp
    assert (cmd.cmd, cmd.line) == ("CMD", 14)


def test_heredoc_markers_ignored_in_exec_form_and_other_instructions() -> None:
    df = parse('FROM scratch\nRUN ["sh", "-c", "cat <<EOF"]\nLABEL a="<<EOF"\n')
    assert df.instructions[1].heredocs == () and df.instructions[2].heredocs == ()


def test_run_mounts_repeat_and_onbuild_keeps_its_trigger() -> None:
    df = parse("FROM scratch\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t "
               "--network=none true\nONBUILD RUN echo hi\n")
    run, onbuild = df.instructions[1:]
    assert run.mounts == ("type=cache,target=/c", "type=tmpfs,target=/t")
    assert run.flags == {"network": "none"} and run.args == "true"
    assert (onbuild.cmd, onbuild.args) == ("ONBUILD", "RUN echo hi")
