"""PyYAML, imported without compiling ``yaml.reader.Reader.NON_PRINTABLE`` at import time.

That pattern is a large Unicode class: compiling it is ~4 ms of every command that reads a
compose file, and only PyYAML's pure-Python reader uses it (libyaml's parser checks
characters in C). It is compiled on its first use instead. Everything else is PyYAML as is.
"""
from __future__ import annotations

import re
import sys

_re_compile = re.compile
_NON_PRINTABLE_START = "[^\x09\x0A\x0D\x20-\x7E"


class CompiledOnUse:
    """A regular expression compiled when first used."""

    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, flags)

    def __getattr__(self, name: str) -> Any:
        compiled = _re_compile(*self._args)
        self.search = compiled.search  # the method PyYAML calls; from now on the real one
        return getattr(compiled, name)


def _deferring(pattern: Any, flags: int = 0) -> Any:
    if isinstance(pattern, str) and pattern.startswith(_NON_PRINTABLE_START):
        return CompiledOnUse(pattern, flags)
    return _re_compile(pattern, flags)


if "yaml" not in sys.modules:
    re.compile = _deferring  # type: ignore[assignment]
    try:
        import yaml
    finally:
        re.compile = _re_compile

import yaml  # noqa: E402  (already loaded above: this only binds the name)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode  # noqa: E402

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MappingNode", "Node", "ScalarNode", "SequenceNode", "yaml"]
