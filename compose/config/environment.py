"""``.env`` / ``--env-file`` / ``env_file:`` parsing with docker compose's rules.

A line is ``[export ]KEY=VALUE``, ``KEY`` alone (inherit from the environment) or a comment.
Unquoted values end at the line end or at `` #``; single-quoted values are literal;
double-quoted values may span lines, understand ``\\n``-style escapes and are interpolated, as
are unquoted values. References see the process environment first, then the keys defined
earlier in the same file.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence

from compose.config.interpolation import InterpolationError, substitute
from compose.config.merge import as_mapping
from compose.config.syntax import resolve_host_path
from compose.errors import ConfigError

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

    from compose.config.discovery import StrPath

Lookup = Callable[[str], str | None]
_KEY = re.compile(r"[A-Za-z0-9_.\-\[\]]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "a": "\a", "b": "\b",
            "f": "\f", "v": "\v", "$": "$$"}


def parse_dotenv(
    text: str, filename: str, lookup: Lookup | None = None, fallback: Lookup | None = None
) -> dict[str, str]:
    """Parse ``.env`` text into a dict. References resolve through ``lookup`` (the process
    environment) first, then keys defined earlier in the file, then ``fallback``."""
    out: dict[str, str] = {}
    outer = lookup or (lambda _name: None)
    last = fallback or (lambda _name: None)

    def resolve(name: str) -> str | None:
        value = outer(name)
        if value is None:
            value = out.get(name)
        return value if value is not None else last(name)

    parser = _Parser(text, filename)
    while (entry := parser.next_entry(resolve)) is not None:
        key, value = entry
        if value is not None:
            out[key] = value
    return out


class _Parser:
    """A cursor over .env text; one statement per :meth:`next_entry` call."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.pos = 0
        self.line = 1
        self.filename = filename

    def error(self, message: str) -> ConfigError:
        return ConfigError(message, file=self.filename, line=self.line)

    def next_entry(self, resolve: Lookup) -> tuple[str, str | None] | None:
        """Return (key, value) of the next statement; value None for a bare unset key."""
        self._skip_blank_and_comments()
        if self.pos >= len(self.text):
            return None
        rest = self.text[self.pos :]
        if rest.startswith("export ") or rest.startswith("export\t"):
            self.pos += 7
            self._skip_spaces()
        match = _KEY.match(self.text, self.pos)
        if match is None:
            raise self.error(f"invalid line in env file: {self._current_line()!r}")
        key = match.group()
        self.pos = match.end()
        self._skip_spaces()
        if self.text[self.pos : self.pos + 1] in ("\n", "", "#"):
            self._skip_to_next_line()
            return key, resolve(key)  # bare KEY inherits from the environment
        if self.text[self.pos] not in "=:":
            raise self.error(f"invalid line in env file: {self._current_line()!r} (expected "
                             "KEY=VALUE)")
        self.pos += 1
        self._skip_spaces()
        return key, self._value(resolve)

    def _value(self, resolve: Lookup) -> str:
        quote = self.text[self.pos : self.pos + 1]
        if quote in ("'", '"'):
            return self._quoted(quote, resolve)
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        raw = self.text[self.pos : end]
        self.pos = end
        raw = raw.split(" #", 1)[0].rstrip()
        return self._interpolate(raw, resolve)

    def _quoted(self, quote: str, resolve: Lookup) -> str:
        start_line = self.line
        i = self.pos + 1
        chars: list[str] = []
        while i < len(self.text):
            ch = self.text[i]
            if ch == "\\" and i + 1 < len(self.text):
                chars.append(ch + self.text[i + 1])
                i += 2
                continue
            if ch == quote:
                self.line += self.text.count("\n", self.pos, i)
                self.pos = i + 1
                self._skip_to_next_line()
                body = "".join(chars)
                if quote == "'":
                    return body.replace("\\'", "'")
                return self._interpolate(_unescape(body), resolve)
            chars.append(ch)
            i += 1
        self.line = start_line
        raise self.error(f"unterminated quoted value in env file: {self._current_line()!r}")

    def _interpolate(self, raw: str, resolve: Lookup) -> str:
        try:
            return substitute(raw, resolve)
        except InterpolationError as exc:
            raise self.error(f"in env file: {exc}") from None

    def _skip_spaces(self) -> None:
        while self.text[self.pos : self.pos + 1] in (" ", "\t"):
            self.pos += 1

    def _skip_to_next_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def _skip_blank_and_comments(self) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\n":
                self.line += 1
                self.pos += 1
            elif ch in " \t":
                self.pos += 1
            elif ch == "#":
                self._skip_to_next_line()
            else:
                return

    def _current_line(self) -> str:
        end = self.text.find("\n", self.pos)
        start = self.text.rfind("\n", 0, self.pos) + 1
        return self.text[start : len(self.text) if end < 0 else end]


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def parse_raw_env(text: str) -> dict[str, str]:
    """``format: raw`` env files: ``KEY=VALUE`` taken literally (no quotes, no interpolation)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value
    return out


def read_env_file(
    path: StrPath, lookup: Lookup | None = None, fmt: str | None = None,
    fallback: Lookup | None = None,
) -> dict[str, str]:
    """Read and parse one env file; a missing or unreadable file is a ConfigError."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"env file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read env file {path}: {exc}") from None
    if fmt == "raw":
        return parse_raw_env(text)
    if fmt not in (None, "", "dotenv"):
        raise ConfigError(f"env file {path}: unsupported format {fmt!r} (use 'raw' or omit it)")
    return parse_dotenv(text, path, lookup, fallback)


def project_environment(
    os_env: Mapping[str, str], env_files: Sequence[StrPath], default_dir: StrPath,
    dotenv: bool = True,
) -> dict[str, str]:
    """The interpolation environment: ``--env-file`` files (or ``<dir>/.env`` unless
    ``dotenv`` is off) under the process environment, which wins."""
    files = env_files or [p for p in [os.path.join(default_dir, ".env")]
                          if dotenv and os.path.isfile(p)]
    merged: dict[str, str] = {}
    for path in files:
        if not os.path.isdir(path):
            merged.update(read_env_file(path, os_env.get, None, dict(merged).get))
    return {**merged, **os_env}


def service_environment(
    svc: Mapping[str, Any], base: str, env: Mapping[str, str]
) -> dict[str, str | None]:
    """env_file entries in order, then ``environment`` (which wins); bare keys resolve from
    the project environment."""
    merged: dict[str, str | None] = {}
    env_files = svc.get("env_file") or []
    for entry in [env_files] if isinstance(env_files, (str, dict)) else env_files:
        spec = {"path": entry} if isinstance(entry, str) else dict(entry)
        path = resolve_host_path(str(spec["path"]), base)
        if not os.path.exists(path) and spec.get("required", True) is False:
            continue
        merged.update(read_env_file(path, env.get, spec.get("format")))
    for key, value in (as_mapping(svc.get("environment") or {}) or {}).items():
        merged[key] = env.get(key) if value is None else _scalar_str(value)
    return merged


def file_labels(files: list[str], env: Mapping[str, str], labels: dict[str, Any]) -> Any:
    """Labels from ``label_file`` files (dotenv syntax) under the ``labels`` mapping."""
    merged: dict[str, Any] = {}
    for path in files:
        merged.update(read_env_file(path, env.get))
    return {**merged, **labels}


def resolve_build_args(args: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Build args without a value take it from the environment, or are dropped."""
    return {k: (v if v is not None else env[k]) for k, v in args.items()
            if v is not None or k in env}


def _scalar_str(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
