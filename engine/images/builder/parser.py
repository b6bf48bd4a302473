"""Dockerfile parser: directives, comments, line continuations, heredocs, flags, exec/shell
forms."""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field

from engine.images.builder.errors import BuildError

log = logging.getLogger(__name__)

KNOWN = {"FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
         "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
         "HEALTHCHECK", "SHELL"}
# Flags each instruction accepts; anything else is a clear error. ``mount`` may repeat.
ALLOWED_FLAGS = {
    "FROM": {"platform"},
    "RUN": {"network", "mount", "security"},
    "COPY": {"from", "chown", "chmod", "link"},
    "ADD": {"chown", "chmod", "link"},
    "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}
HEREDOC_CMDS = ("RUN", "COPY", "ADD")
ONBUILD_FORBIDDEN = ("ONBUILD", "FROM", "MAINTAINER")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_FLAG = re.compile(r"^--([a-z][a-z0-9-]*)(?:=(.*))?$")
# <<EOF, <<-EOF, <<"EOF", <<'EOF' (a quoted word: no expansion of the body)
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_.-]*)\2")


@dataclass(frozen=True, slots=True)
class Heredoc:
    """One here-document of an instruction: its delimiter word, body and how it was quoted."""

    name: str
    body: str
    expand: bool = True  # unquoted delimiter: variables in the body are expanded (COPY)
    chomp: bool = False  # <<- : leading tabs were stripped


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction: ``cmd`` upper-cased, ``args`` the raw text after flags."""

    cmd: str
    args: str
    line: int
    original: str
    flags: dict[str, str] = field(default_factory=dict)
    mounts: tuple[str, ...] = ()  # every RUN --mount=..., in order
    heredocs: tuple[Heredoc, ...] = ()

    def exec_form(self) -> list[str] | None:
        """The JSON array form (``["a", "b"]``) if the arguments are one, else None."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None


@dataclass(frozen=True, slots=True)
class Dockerfile:
    """A parsed Dockerfile: its instructions and escape character."""
    instructions: tuple[Instruction, ...]
    escape: str = "\\"
    file: str = "Dockerfile"


def parse(text: str, file: str = "Dockerfile") -> Dockerfile:
    """Parse Dockerfile text; raise BuildError naming the line on a syntax problem."""
    lines = text.splitlines()
    escape, start = _directives(lines, file)
    out: list[Instruction] = []
    i = start
    while i < len(lines):
        first = i
        stripped = lines[i].strip()
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        parts = [stripped]
        while parts[-1].endswith(escape) and i <= len(lines):
            parts[-1] = parts[-1][: -len(escape)]
            while i < len(lines) and (not lines[i].strip() or
                                      lines[i].strip().startswith("#")):
                i += 1  # comments and blank lines inside a continuation are dropped
            if i >= len(lines):
                break
            parts.append(lines[i].strip())
            i += 1
        text = " ".join(p for p in parts if p)
        docs, i = _heredocs(text, lines, i, first + 1, file)
        out.append(_instruction(text, first + 1, file, docs))
    if not out:
        raise BuildError("the Dockerfile has no instructions", file=file)
    return Dockerfile(tuple(out), escape, file)


def _directives(lines: list[str], file: str) -> tuple[str, int]:
    escape = "\\"
    for idx, line in enumerate(lines):
        m = _DIRECTIVE.match(line.strip())
        if not m:
            return escape, idx
        key, value = m.group(1).lower(), m.group(2)
        if key == "escape":
            if value not in ("\\", "`"):
                raise BuildError(f"invalid escape directive {value!r} (use \\ or `)",
                                 line=idx + 1, file=file)
            escape = value
        elif key == "syntax":
            log.info("%s:%d: '# syntax=%s' ignored: the built-in builder is used", file,
                     idx + 1, value)
    return escape, len(lines)


def _heredoc_markers(text: str) -> list[re.Match[str]]:
    word, _, rest = text.partition(" ")
    if word.upper() not in HEREDOC_CMDS or rest.lstrip().startswith("["):
        return []
    return list(_HEREDOC.finditer(rest))


def _heredocs(text: str, lines: list[str], i: int, line: int,
              file: str) -> tuple[tuple[Heredoc, ...], int]:
    """Collect the bodies of the here-documents ``text`` opens, from ``lines[i:]``."""
    docs: list[Heredoc] = []
    for m in _heredoc_markers(text):
        chomp, quote, name = m.group(1) == "-", m.group(2), m.group(3)
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise BuildError(f"here-document <<{name} is not terminated (no line {name!r})",
                                 line=line, file=file)
            raw = lines[i]
            i += 1
            current = raw.lstrip("\t") if chomp else raw
            if current == name:
                break
            body.append(current)
        docs.append(Heredoc(name, "".join(b + "\n" for b in body), expand=not quote,
                            chomp=chomp))
    return tuple(docs), i


def _instruction(text: str, line: int, file: str,
                 docs: tuple[Heredoc, ...] = ()) -> Instruction:
    word, _, rest = text.partition(" ")
    cmd = word.upper()
    if cmd not in KNOWN:
        raise BuildError(f"unknown instruction {word!r}", line=line, file=file)
    if cmd == "ONBUILD":
        inner = rest.strip().partition(" ")[0].upper()
        if inner in ONBUILD_FORBIDDEN:
            raise BuildError(f"ONBUILD {inner} is not allowed", line=line, file=file)
        if not inner:
            raise BuildError("ONBUILD needs an instruction", line=line, file=file)
        _instruction(rest.strip(), line, file)  # the trigger must itself be valid
        return Instruction(cmd, rest.strip(), line, text)
    flags, mounts, rest = _flags(cmd, rest.strip(), line, file)
    return Instruction(cmd, rest, line, text, flags, mounts, docs)


def parse_trigger(text: str, file: str, line: int) -> Instruction:
    """An ONBUILD trigger stored in an image config, as an instruction of the child build."""
    lines = text.splitlines() or [""]
    docs, _ = _heredocs(lines[0], lines, 1, line, file)
    return _instruction(lines[0], line, file, docs)


def _flags(cmd: str, rest: str, line: int,
           file: str) -> tuple[dict[str, str], tuple[str, ...], str]:
    flags: dict[str, str] = {}
    mounts: list[str] = []
    while rest.startswith("--"):
        token, _, after = rest.partition(" ")
        m = _FLAG.match(token)
        if not m:
            raise BuildError(f"malformed flag {token!r} on {cmd}", line=line, file=file)
        name, value = m.group(1), m.group(2)
        if name not in ALLOWED_FLAGS.get(cmd, set()):
            raise BuildError(f"{cmd} --{name} is not supported by the pycompose builder",
                             line=line, file=file)
        if name == "mount":
            if not value:
                raise BuildError("RUN --mount needs a value (e.g. type=cache,target=/root/.cache)",
                                 line=line, file=file)
            mounts.append(value)
        else:
            flags[name] = value if value is not None else "true"
        rest = after.strip()
    return flags, tuple(mounts), rest
