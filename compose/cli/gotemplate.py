"""A small subset of Go's text/template, for ``--format`` like docker's CLI.

Supported: text with ``{{ … }}`` actions (``{{-``/``-}}`` trim the adjacent spaces), field
chains (``.``, ``.Name``, ``.Labels.foo``), string/number literals, pipelines (``|``), parentheses,
and docker's template functions ``json``, ``upper``, ``lower``, ``title``, ``join``, ``split``,
``pad``, ``truncate``, ``println`` plus Go's ``index`` and ``print``. A field whose value is a
function (``.Label "key"``) is called with the arguments. A format starting with ``table``
prints a header row (``headers`` names each field's column) and aligns cells on tabs like Go's
tabwriter as docker configures it (min width 10, padding 3). ``\\t`` and ``\\n`` typed on the
command line become tab and newline (docker does the same). Anything outside the subset
(``if``, ``range``, variables, ...) is a :class:`TemplateError` naming it.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from compose.errors import ComposeError

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<num>-?\d+)'
                    r'|(?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)|(?P<ident>[A-Za-z_]\w*)'
                    r'|(?P<op>[|()])|(?P<bad>\S+))')
_KEYWORDS = frozenset({"if", "else", "end", "range", "with", "define", "template", "block",
                       "break", "continue", "nil", "and", "or", "not", "eq", "ne", "lt", "le",
                       "gt", "ge", "len", "slice", "printf", "html", "js", "urlquery", "call"})
_MIN_WIDTH, _PADDING = 10, 3


class TemplateError(ComposeError):
    """A --format template outside the supported subset, or malformed."""


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed format: text and action nodes; ``table`` formats print a header row."""

    nodes: tuple[str | tuple[Any, ...], ...]
    table: bool


def _fn_json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _fn_join(items: Any, sep: str) -> str:
    return sep.join(go_str(i) for i in items)


def _fn_pad(value: Any, left: int, right: int) -> str:
    return " " * left + go_str(value) + " " * right


def _fn_truncate(value: Any, n: int) -> str:
    text = go_str(value)
    return text[:n]


def _fn_index(value: Any, *keys: Any) -> Any:
    for k in keys:
        value = value[k] if isinstance(value, Mapping) and k in value else (
            value[k] if isinstance(value, Sequence) and isinstance(k, int) else "")
    return value


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "json": _fn_json,
    "upper": lambda v: go_str(v).upper(),
    "lower": lambda v: go_str(v).lower(),
    "title": lambda v: go_str(v).title(),
    "join": _fn_join,
    "split": lambda v, sep: go_str(v).split(sep),
    "pad": _fn_pad,
    "truncate": _fn_truncate,
    "println": lambda *a: " ".join(go_str(v) for v in a) + "\n",
    "print": lambda *a: "".join(go_str(v) for v in a),
    "index": _fn_index,
}


def _plain(value: Any) -> Any:
    """The JSON view of a row: its non-function fields."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def go_str(value: Any) -> str:
    """How Go's fmt prints a value in a template (``true``, ``[a b]``, ``map[k:v]``)."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{go_str(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_str(v) for v in value) + "]"
    return str(value)


def parse(fmt: str) -> Template:
    """Parse a docker-style ``--format`` value (``table`` prefix optional)."""
    table = fmt.startswith("table")
    text = fmt[len("table"):] if table else fmt
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    nodes: list[str | tuple[Any, ...]] = []
    pos = 0
    while pos < len(text):
        start = text.find("{{", pos)
        if start < 0:
            nodes.append(text[pos:])
            break
        end = text.find("}}", start)
        if end < 0:
            raise TemplateError(f"template {fmt!r}: unclosed action (missing '}}}}')")
        literal, body = text[pos:start], text[start + 2:end]
        if body.startswith("- "):
            literal, body = literal.rstrip(), body[1:]
        pos = end + 2
        if body.endswith(" -"):
            body = body[:-1]
            pos = len(text) - len(text[pos:].lstrip())
        if literal:
            nodes.append(literal)
        nodes.append(_parse_pipeline(_tokens(body, fmt), fmt))
    return Template(tuple(nodes), table)


def _tokens(body: str, fmt: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(body):
        kind = m.lastgroup
        if kind is None:
            continue
        value = m.group(kind)
        if kind == "bad" or (kind == "ident" and value in _KEYWORDS and value not in FUNCTIONS):
            raise TemplateError(f"template {fmt!r}: {value!r} is not supported (pycompose "
                                f"supports fields, pipelines and the functions "
                                f"{', '.join(sorted(FUNCTIONS))})")
        if kind == "ident" and value not in FUNCTIONS:
            raise TemplateError(f"template {fmt!r}: function {value!r} not defined")
        out.append((kind, value))
    if not out:
        raise TemplateError(f"template {fmt!r}: empty action")
    return out


def _parse_pipeline(tokens: list[tuple[str, str]], fmt: str) -> tuple[Any, ...]:
    """A pipeline as ("pipe", [command, ...]); a command is a list of operands."""
    commands: list[list[Any]] = [[]]
    stack: list[list[list[Any]]] = []
    for kind, value in tokens:
        if value == "|" and kind == "op":
            commands.append([])
        elif value == "(":
            stack.append(commands)
            commands = [[]]
        elif value == ")":
            if not stack:
                raise TemplateError(f"template {fmt!r}: unexpected ')'")
            inner = ("pipe", commands)
            commands = stack.pop()
            commands[-1].append(inner)
        else:
            commands[-1].append(_operand(kind, value))
    if stack or any(not c for c in commands):
        raise TemplateError(f"template {fmt!r}: malformed pipeline")
    return ("pipe", commands)


def _operand(kind: str, value: str) -> tuple[str, Any]:
    if kind == "str":
        return ("lit", json.loads(value))
    if kind == "raw":
        return ("lit", value[1:-1])
    if kind == "num":
        return ("lit", int(value))
    if kind == "field":
        return ("field", tuple(p for p in value.split(".") if p))
    return ("fn", value)


def render(tpl: Template, row: Any) -> str:
    """Execute the template on one row (a mapping of field name to value)."""
    return "".join(n if isinstance(n, str) else go_str(_pipe(n, row)) for n in tpl.nodes)


def _pipe(node: tuple[Any, ...], row: Any) -> Any:
    result: Any = _NOTHING
    for command in node[1]:
        result = _command(command, row, result)
    return result


_NOTHING = object()


def _command(command: list[Any], row: Any, piped: Any) -> Any:
    head, args = command[0], [_value(a, row) for a in command[1:]]
    if piped is not _NOTHING:
        args.append(piped)
    if head[0] == "fn":
        try:
            return FUNCTIONS[head[1]](*args)
        except TypeError:
            raise TemplateError(f"wrong number of arguments for {head[1]!r}") from None
    value = _value(head, row)
    if callable(value):
        return value(*args)
    if args:
        raise TemplateError(f"{'.'.join(head[1]) or '.'} is not a function: it takes no "
                            "arguments")
    return value


def _value(operand: Any, row: Any) -> Any:
    if operand[0] == "pipe":
        return _pipe(operand, row)
    if operand[0] == "lit":
        return operand[1]
    if operand[0] == "fn":
        return _command([operand], row, _NOTHING)
    value = row
    for part in operand[1]:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, Row):
            raise TemplateError(f"template: can't evaluate field {part} (fields: "
                                f"{', '.join(k for k in value if not k.startswith('_'))})")
        else:
            value = None
    return value


class Row(dict[str, Any]):
    """One object to format: its fields, like a Go struct (an unknown field is an error)."""


class HeaderRow(Row):
    """The row a ``table`` header is rendered from: each field gives its column title."""

    def __missing__(self, key: str) -> str:
        return key.upper()

    def __contains__(self, key: object) -> bool:
        return True


def header_row(headers: Mapping[str, str]) -> HeaderRow:
    """Column titles for ``headers``; unknown fields get their upper-cased name, and a
    function field (``.Label "x"``) the upper-cased argument, like docker."""
    row = HeaderRow(headers)
    row.setdefault("Label", lambda name: str(name).rsplit(".", 1)[-1].upper())
    return row


def format_rows(fmt: str, rows: Sequence[Mapping[str, Any]], headers: Mapping[str, str]) -> str:
    """Render ``rows`` with ``fmt`` (one line each; a ``table`` format adds the header row and
    aligns the tab-separated cells)."""
    tpl = parse(fmt)
    lines = [render(tpl, r) for r in rows]
    if not tpl.table:
        return "".join(ln + "\n" for ln in lines)
    return tabwrite([render(tpl, header_row(headers))] + lines)


def tabwrite(lines: Sequence[str]) -> str:
    """Align tab-terminated cells in columns (Go tabwriter: minwidth 10, padding 3)."""
    cells = [ln.split("\t") for ln in lines]
    widths: dict[int, int] = {}
    for row in cells:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, _MIN_WIDTH), len(cell) + _PADDING)
    out = []
    for row in cells:
        out.append("".join(c.ljust(widths[i]) for i, c in enumerate(row[:-1])) + row[-1])
    return "".join(ln + "\n" for ln in out)


def is_template(fmt: str) -> bool:
    """A ``--format`` value other than the named formats (table, json, ...)."""
    return "{{" in fmt or fmt.startswith("table ")
