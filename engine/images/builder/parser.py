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
UNSUPPORTED = {"ONBUILD": "ONBUILD triggers are not supported by the pycompose builder"}
# Flags each instruction accepts; anything else is a clear error.
ALLOWED_FLAGS = {
    "FROM": {"platform"},
    "RUN": {"network"},
    "COPY": {"from", "chown", "chmod", "link"},
    "ADD": {"chown", "chmod", "link"},
    "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9_-]*)\s*=\s*(.*?)\s*$")
_FLAG = re.compile(r"^--([a-z][a-z0-9-]*)(?:=(.*))?$")


@dataclass(frozen=True, slots=True)
class Instruction:
    """One Dockerfile instruction: ``cmd`` upper-cased, ``args`` the raw text after flags."""

    cmd: str
    args: str
    line: int
    original: str
    flags: dict[str, str] = field(default_factory=dict)

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
        out.append(_instruction(" ".join(p for p in parts if p), first + 1, file))
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


def _instruction(text: str, line: int, file: str) -> Instruction:
    word, _, rest = text.partition(" ")
    cmd = word.upper()
    if cmd not in KNOWN:
        raise BuildError(f"unknown instruction {word!r}", line=line, file=file)
    if cmd in UNSUPPORTED:
        raise BuildError(UNSUPPORTED[cmd], line=line, file=file)
    if "<<" in rest and re.search(r"<<-?[\"']?[A-Za-z_]+", rest) and cmd in ("RUN", "COPY",
                                                                                "ADD"):
        raise BuildError("heredocs are not supported by the pycompose builder", line=line,
                         file=file)
    flags, rest = _flags(cmd, rest.strip(), line, file)
    return Instruction(cmd, rest, line, text, flags)


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
        flags[name] = value if value is not None else "true"
        rest = after.strip()
    return flags, rest
