"""Every manifest for the examples and the corpus passes kubernetes-validate in strict mode for
the two newest Kubernetes versions it ships; files that cannot convert fail naming a key."""
from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
from kubernetes_validate.utils import all_versions

from compose.config import LoadOptions, load
from compose.k8s import ConvertError, ConvertOptions, convert_project
from tests.conftest import CORPUS, REPO

FILES = sorted([*REPO.glob("examples/stacks/*/compose.yaml"),
                *CORPUS.rglob("compose.y*ml"), *CORPUS.rglob("docker-compose.y*ml")])
VERSIONS = sorted(all_versions(), key=lambda v: [int(x) for x in
                                                                      v.split(".")])[-2:]
NAMED_KEY = re.compile(r'^(service|volume|network|secret|config) "[^"]+": [\w.\-]+: |'
                       r"^two compose objects")


def _validate(objs: list[dict[str, object]]) -> None:
    for obj in objs:
        for version in VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_the_validator_does_reject_a_bad_manifest() -> None:
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
           "spec": {"replicas": "two", "selector": {}, "template": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate([bad])
    with pytest.raises(kubernetes_validate.ValidationError):  # strict: unknown field
        _validate([{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                    "spec": {"ports": [], "bogus": 1}}])


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_converts_to_valid_manifests_or_names_the_key(path: Path) -> None:
    project = load(LoadOptions(files=(str(path),), working_dir=str(path.parent)))
    try:
        objs, _ = convert_project(project)
    except ConvertError as exc:
        assert NAMED_KEY.match(str(exc)), str(exc)
        try:
            objs, warnings = convert_project(project, ConvertOptions(allow_lossy=True))
        except ConvertError as missing:  # an input is missing (a secret's file): no retry
            assert NAMED_KEY.match(str(missing)) and "--allow-lossy" not in str(missing)
            return
        assert warnings or "--allow-lossy" not in str(exc)
    _validate(objs)


def test_versions_are_the_two_newest() -> None:
    assert len(VERSIONS) == 2 and VERSIONS[-1] >= "1.36"
