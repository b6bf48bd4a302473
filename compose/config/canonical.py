"""Render a project the way ``docker compose config`` prints it.

The canonical mapping built by :mod:`normalize` already has docker compose's key order and
long syntaxes; this module only writes it out: YAML with two-space indentation, sequences
indented under their key, strings that would read back as another type double-quoted (as
go-yaml does), multi-line strings as literal blocks; or JSON with two-space indentation.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from compose.config.model import Project

# Plain scalars that YAML 1.1 or 1.2 would read as something other than a string.
_NEEDS_QUOTES = re.compile(
    r"""^(?:[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0[xXoObB][\da-fA-F_]+
        |[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)
        |y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE
        |on|On|ON|off|Off|OFF|null|Null|NULL|~|\d+:\d+(?::\d+)*|)$""",
    re.VERBOSE,
)


class _Dumper(yaml.SafeDumper):
    """Sequences indented under their parent key, like go-yaml's encoder."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _NEEDS_QUOTES.match(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


def _represent_none(dumper: yaml.SafeDumper, _value: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "null")


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(type(None), _represent_none)


def render_yaml(data: Any) -> str:
    """YAML text in docker compose's output style."""
    return yaml.dump(_plain(data), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=False, width=1 << 30, indent=2)


def render_json(data: Any) -> str:
    """JSON text with two-space indentation."""
    return json.dumps(_plain(data), indent=2, ensure_ascii=False) + "\n"


def _plain(data: Any) -> Any:
    """Mappings and sequences as dicts and lists (the model may hold read-only views)."""
    if isinstance(data, Mapping):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    return data


def project_document(project: Project) -> dict[str, Any]:
    """The mapping ``config`` prints for ``project``."""
    return dict(project.raw)


def render_project(project: Project, fmt: str = "yaml") -> str:
    """``project`` as YAML or JSON text. Like docker compose, the JSON form has its top-level
    keys sorted (it is a map there, not a struct) and escapes ``<``, ``>`` and ``&``."""
    doc = project_document(project)
    if fmt != "json":
        return render_yaml(doc)
    text = render_json(dict(sorted(doc.items())))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
