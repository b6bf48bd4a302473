"""Every kind of invalid compose file is reported with the file and line of the mistake:
schema, semantic checks, normalization, interpolation (casts included), extends and include
(missing files, missing services, cycles, mistakes inside the other file), env files, the
project name, the dependency graph."""
from __future__ import annotations

from pathlib import Path

import pytest

from compose.errors import ComposeError
from tests.unit.config.helpers import load_in

Case = tuple[str, dict[str, str], str, int, str]  # compose.yaml, other files, file, line, text

CASES: dict[str, Case] = {
    "project name without usable characters": (
        "name: '@@@'\nservices:\n  a: {image: x}\n", {}, "compose.yaml", 1, "project name"),
    "extends a missing file": (
        "services:\n  a:\n    extends: {file: nope.yaml, service: b}\n", {},
        "compose.yaml", 3, "not found"),
    "extends a missing service": (
        "services:\n  a:\n    image: x\n    extends: {service: zz}\n", {},
        "compose.yaml", 4, "cannot extend service 'zz'"),
    "extends a service missing in the other file": (
        "services:\n  a:\n    extends: {file: base.yaml, service: zz}\n",
        {"base.yaml": "services:\n  b: {image: x}\n"}, "compose.yaml", 3, "base.yaml"),
    "extends cycle": (
        "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n    image: y\n",
        {}, "compose.yaml", 3, "extends cycle"),
    "a mistake in the extended service": (
        "services:\n  a:\n    extends: {file: base.yaml, service: b}\n",
        {"base.yaml": "services:\n  b:\n    image: x\n    ports: ['99999:80']\n"},
        "base.yaml", 4, "out of range"),
    "interpolation in the extended file": (
        "services:\n  a:\n    extends: {file: base.yaml, service: b}\n",
        {"base.yaml": "services:\n  b:\n    image: ${X:?need X}\n"}, "base.yaml", 3, "need X"),
    "include a missing file": (
        "include:\n  - nope.yaml\nservices:\n  a: {image: x}\n", {}, "compose.yaml", 2,
        "not found"),
    "a mistake in the included file": (
        "include:\n  - inner.yaml\nservices:\n  a: {image: x}\n",
        {"inner.yaml": "services:\n  b:\n    image: x\n    ports: ['99999:80']\n"},
        "inner.yaml", 4, "out of range"),
    "include cycle": (
        "include: [b.yaml]\nservices:\n  a: {image: x}\n",
        {"b.yaml": "include: [compose.yaml]\nservices:\n  b: {image: x}\n"}, "b.yaml", 1,
        "include cycle"),
    "missing env_file": (
        "services:\n  a:\n    image: x\n    env_file: nope.env\n", {}, "compose.yaml", 4,
        "not found"),
    "bad env file line": (
        "services:\n  a:\n    image: x\n    env_file: e.env\n",
        {"e.env": "A=1\nB='unterminated\n"}, "compose.yaml", 4, "unterminated"),
    "duplicate key": ("services:\n  a:\n    image: x\n    image: y\n", {}, "compose.yaml", 4,
                      "duplicate key"),
    "dependency cycle": (
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n"
        "    depends_on: [a]\n", {}, "compose.yaml", 4, "cycle"),
    "unsplittable command": (
        "services:\n  a:\n    image: x\n    command: echo 'unterminated\n", {}, "compose.yaml", 4,
        "cannot split"),
    "invalid additional host": (
        "services:\n  a:\n    image: x\n    extra_hosts: ['nocolon']\n", {}, "compose.yaml", 4,
        "missing IP"),
    "invalid boolean after interpolation": (
        "services:\n  a:\n    image: x\n    privileged: ${P:-maybe}\n", {}, "compose.yaml", 4,
        "invalid boolean"),
    "invalid integer after interpolation": (
        "services:\n  a:\n    image: x\n    scale: ${S:-many}\n", {}, "compose.yaml", 4,
        "whole number"),
    "malformed interpolation": ("services:\n  a:\n    image: ${X\n", {}, "compose.yaml", 3,
                                "missing '}'"),
    "type conflict in an override file": (
        "services:\n  a:\n    image: x\n    command: [a]\n",
        {"compose.override.yaml": "services:\n  a:\n    command: {x: 1}\n"},
        "compose.override.yaml", 3, "must be"),
    "bad MAC address": ("services:\n  a:\n    image: x\n    mac_address: zz\n", {},
                        "compose.yaml", 4, "MAC"),
    "invalid port protocol": ("services:\n  a:\n    image: x\n    ports: ['8080:80/icmp']\n",
                              {}, "compose.yaml", 4, "invalid protocol 'icmp'"),
    "invalid expose protocol": ("services:\n  a:\n    image: x\n    expose: ['80/ip']\n", {},
                                "compose.yaml", 4, "invalid protocol"),
    "bad every_ pull policy": ("services:\n  a:\n    image: x\n    pull_policy: every_1y\n",
                               {}, "compose.yaml", 4, "refresh interval"),
    "empty file": ("", {}, "compose.yaml", 1, "empty compose file"),
    "top level list": ("- a\n", {}, "compose.yaml", 1, "top level"),
    "healthcheck test kind": (
        "services:\n  a:\n    image: x\n    healthcheck: {test: [FOO, x]}\n", {},
        "compose.yaml", 4, "CMD-SHELL"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_invalid_file_names_file_and_line(tmp_path: Path, case: str) -> None:
    text, others, file, line, needle = CASES[case]
    (tmp_path / "compose.yaml").write_text(text)
    for name, body in others.items():
        (tmp_path / name).write_text(body)
    with pytest.raises(ComposeError) as info:
        load_in(tmp_path)
    err = info.value
    assert (Path(err.file or "").name, err.line) == (file, line), str(err)
    assert needle in str(err)
    assert str(err).startswith(f"{err.file}:{line}")
