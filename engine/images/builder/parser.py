"""Dockerfile parser: directives, comments, line continuations, flags, exec/shell forms."""
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
UNSUPPORTED: dict[str, str] = {}
ONBUILD_FORBIDDEN = ("ONBUILD", "FROM", "MAINTAINER")
# Flags each instruction accepts; anything else is a clear error.
ALLOWED_FLAGS = {
    "FROM": {"platform"},
    "RUN": {"network", "mount"},
    "COPY": {"from", "chown", "chmod", "link"},
    "ADD": {"chown", "chmod", "link"},
    "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_FLAG = re.compile(r"^--([a-z][a-z0-9-]*)(?:=(.*))?$")
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")


@dataclass(frozen=True, slots=True)
class Heredoc:
    """One ``<<WORD`` of an instruction: its body (the lines up to ``WORD``)."""

    name: str
    body: str
    quoted: bool  # <<"WORD": no variable expansion in the body
    strip_tabs: bool  # <<-WORD


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction: ``cmd`` upper-cased, ``args`` the raw text after flags."""

    cmd: str
    args: str
    line: int
    original: str
    flags: dict[str, str] = field(default_factory=dict)
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
        heredocs, i = _heredocs(text, lines, i, first + 1, file)
        out.append(_instruction(text, first + 1, file, heredocs))
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


def _heredocs(text: str, lines: list[str], i: int, line: int,
              file: str) -> tuple[tuple[Heredoc, ...], int]:
    """The bodies of a RUN/COPY/ADD line's ``<<WORD`` markers, read from the lines after it;
    returns them and the index of the next line to parse."""
    cmd = text.partition(" ")[0].upper()
    if cmd not in ("RUN", "COPY", "ADD"):
        return (), i
    found = []
    for m in _HEREDOC.finditer(text):
        strip, quote, name = m.group(1) == "-", m.group(2), m.group(3)
        body: list[str] = []
        while True:
            if i >= len(lines):
                raise BuildError(f"heredoc <<{name} is not closed (no line {name!r})",
                                 line=line, file=file)
            current = lines[i]
            i += 1
            if (current.lstrip("\t") if strip else current) == name:
                break
            body.append(current.lstrip("\t") if strip else current)
        found.append(Heredoc(name, "\n".join(body) + "\n", bool(quote), strip))
    return tuple(found), i


def _instruction(text: str, line: int, file: str,
                 heredocs: tuple[Heredoc, ...] = ()) -> Instruction:
    word, _, rest = text.partition(" ")
    cmd = word.upper()
    if cmd not in KNOWN:
        raise BuildError(f"unknown instruction {word!r}", line=line, file=file)
    if cmd in UNSUPPORTED:
        raise BuildError(UNSUPPORTED[cmd], line=line, file=file)
    if heredocs and cmd != "RUN":
        raise BuildError(f"{cmd} heredocs (files written inline) are not supported by the "
                         "pycompose builder; RUN heredocs are", line=line, file=file)
    if cmd == "ONBUILD":
        trigger = rest.strip().partition(" ")[0].upper()
        if trigger in ONBUILD_FORBIDDEN or trigger not in KNOWN:
            raise BuildError(f"ONBUILD {trigger or '(nothing)'} is not allowed", line=line,
                             file=file)
        return Instruction(cmd, rest.strip(), line, text)
    flags, rest = _flags(cmd, rest.strip(), line, file)
    return Instruction(cmd, rest, line, text, flags, heredocs)


def parse_trigger(text: str, line: int, file: str) -> Instruction:
    """An ONBUILD trigger of a base image, as the instruction it runs (at the FROM's line)."""
    return _instruction(text, line, file)


def _flags(cmd: str, rest: str, line: int, file: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        token, _, after = rest.partition(" ")
        m = _FLAG.match(token)
        if not m:
            raise BuildError(f"malformed flag {token!r} on {cmd}", line=line, file=file)
        name, value = m.group(1), m.group(2)
        if name not in ALLOWED_FLAGS.get(cmd, set()):
            raise BuildError(f"{cmd} --{name} is not supported by the pycompose builder",
                             line=line, file=file)
        value = value if value is not None else "true"
        # --mount may repeat: the values are kept one per line
        flags[name] = f"{flags[name]}\n{value}" if name == "mount" and name in flags else value
        rest = after.strip()
    return flags, rest
