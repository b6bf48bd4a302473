"""``pycompose build`` / ``push`` / ``pull`` of a compose project against the real registry."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import engine.images as im
from compose.cli.main import main
from tests.integration.images.conftest import Registry, skopeo

pytestmark = pytest.mark.root


def test_build_push_pull_project(state_root: Path, tmp_path: Path, registry: Registry,
                                 monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    shutil.copy2("/bin/busybox", proj / "app" / "busybox")
    (proj / "app" / "Dockerfile").write_text(
        "FROM scratch\nCOPY busybox /bin/busybox\n"
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\nCMD ["sh"]\n')
    image = f"{registry.host}/proj/web:1"
    (proj / "compose.yaml").write_text(
        f"services:\n  web:\n    image: {image}\n    build: ./app\n"
        "  cache:\n    image: 127.0.0.1:1/never/pulled\n    profiles: [off]\n")
    compose = ["-f", str(proj / "compose.yaml")]
    assert main([*compose, "build"]) == 0
    built = im.resolve(image)
    assert main([*compose, "push"]) == 0
    out = capsys.readouterr().out
    remote = json.loads(skopeo("inspect", "--tls-verify=false", f"docker://{image}"))["Digest"]
    assert f"web Pushed {remote}" in out and remote == built.manifest_digest
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(fresh))
    assert main([*compose, "pull", "-q"]) == 0
    assert im.resolve(image).id == built.id
    capsys.readouterr()
    assert main(["image", "ls", "-q"]) == 0
    assert capsys.readouterr().out.strip() == built.short_id
