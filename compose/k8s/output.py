"""Writing manifests: one YAML stream (stdout or a file), or a file per object in a directory
with an optional ``kustomization.yaml`` listing them in apply order."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml


def dump(objects: list[dict[str, Any]]) -> str:
    """One multi-document YAML stream."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


def file_name(obj: dict[str, Any]) -> str:
    return f"{obj['metadata']['name']}-{obj['kind'].lower()}.yaml"


def write_manifests(objects: list[dict[str, Any]], output: str | None, *,
                    kustomize: bool = False) -> None:
    """To stdout (``None`` or ``-``), to a directory (an existing one, or a path ending in
    ``/``), or to a file."""
    if output in (None, "-"):
        if kustomize:
            from compose.errors import ComposeError

            raise ComposeError("--kustomize needs -o DIR")
        sys.stdout.write(dump(objects))
        return
    assert output is not None
    path = Path(output)
    if path.is_dir() or output.endswith("/") or kustomize:
        path.mkdir(parents=True, exist_ok=True)
        names = []
        for obj in objects:
            names.append(file_name(obj))
            (path / names[-1]).write_text(yaml.safe_dump(obj, sort_keys=False))
        if kustomize:
            doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                   "resources": names}
            (path / "kustomization.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return
    path.write_text(dump(objects))
