"""``convert --to kubernetes --push``: build with our builder, push to a real registry on
loopback, and name the image by the digest the registry reports (skopeo as the witness)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from compose.cli.main import main
from tests.integration.images.conftest import Registry, skopeo

pytestmark = pytest.mark.root


def _project(tmp_path: Path, second: str, image: str) -> Path:
    """A project ``shop`` whose ``api`` builds ``image`` from busybox, plus ``second``."""
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    shutil.copy2("/bin/busybox", proj / "app" / "busybox")
    (proj / "app" / "Dockerfile").write_text("FROM scratch\nCOPY busybox /bin/busybox\n")
    (proj / "compose.yaml").write_text(
        f"name: shop\nservices:\n  api:\n    image: {image}\n    build: ./app\n  {second}")
    return proj


def test_convert_push_names_images_by_digest(state_root: Path, tmp_path: Path,
                                             registry: Registry,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    image = f"{registry.host}/shop/app:1"
    proj = _project(tmp_path, f"worker:\n    image: {image}\n", image)
    assert main(["-f", str(proj / "compose.yaml"), "convert", "--to", "kubernetes",
                 "--push"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    digest = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{image}"))["Digest"]
    images = {d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
              for d in docs if d["kind"] == "Deployment"}
    assert images == {"api": f"{registry.host}/shop/app@{digest}",
                      "worker": f"{registry.host}/shop/app@{digest}"}


def test_build_push_pushes_named_images_and_skips_unnamed_ones(
        state_root: Path, tmp_path: Path, registry: Registry) -> None:
    """docker compose's LocalComposeBuild ``build --push``: the built image that has a name
    reaches the registry; a service without ``image:`` is built and not pushed."""
    image = f"{registry.host}/shop/pushed:1"
    proj = _project(tmp_path, "unnamed:\n    build: ./app\n", image)
    assert main(["-f", str(proj / "compose.yaml"), "build", "--push"]) == 0
    pushed = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{image}"))
    assert pushed["Digest"].startswith("sha256:")
