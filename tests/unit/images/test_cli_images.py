"""The image commands through the real CLI entry point (no root: no RUN steps)."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from compose.cli.main import main


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "proj"
    (proj / "app").mkdir(parents=True)
    (proj / "app" / "hello.txt").write_text("hi\n")
    (proj / "app" / "Dockerfile").write_text(
        "FROM scratch\nARG WHO=nobody\nCOPY hello.txt /hello-$WHO.txt\nCMD [\"x\"]\n")
    (proj / "compose.yaml").write_text(
        "services:\n  web:\n    build:\n      context: ./app\n      args:\n        WHO: web\n"
        "  named:\n    image: example/named:2\n    build: ./app\n")
    return proj


def _cli(proj: Path, *args: str) -> int:
    return main(["-f", str(proj / "compose.yaml"), *args])


def test_build_images_and_rm(state_root: Path, project: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(project, "build") == 0
    out = capsys.readouterr().out
    assert "web Built" in out and "named Built" in out
    assert _cli(project, "images") == 0  # like docker compose: one row per container, none yet
    (header,) = capsys.readouterr().out.splitlines()
    assert header.split() == ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE", "ID",
                              "SIZE", "CREATED"]
    assert main(["image", "ls"]) == 0
    listing = {tuple(r.split()[:2]) for r in capsys.readouterr().out.splitlines()[1:]}
    assert {("proj-web", "latest"), ("example/named", "2")} <= listing
    assert main(["image", "inspect", "proj-web"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["Config"]["Cmd"] == ["x"] and doc["RepoTags"] == ["proj-web:latest"]
    lower = Path(doc["GraphDriver"]["Data"]["LowerDirs"][0])
    assert (lower / "hello-web.txt").read_text() == "hi\n"
    assert main(["image", "rm", "example/named:2"]) == 0
    assert "Untagged: docker.io/example/named:2" in capsys.readouterr().out


def test_save_load_import_history(state_root: Path, project: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(project, "build", "-q", "web") == 0
    out = tmp_path / "web.tar"
    assert main(["image", "save", "-o", str(out), "--format", "oci-archive", "proj-web"]) == 0
    assert main(["image", "rm", "proj-web"]) == 0
    assert main(["image", "load", "-i", str(out)]) == 0
    assert "Loaded image: proj-web:latest" in capsys.readouterr().out
    assert main(["image", "history", "proj-web"]) == 0
    hist = capsys.readouterr().out
    assert "COPY hello.txt /hello-$WHO.txt" in hist and "CMD [\"x\"]" in hist
    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tf:
        tf.add(project / "app" / "hello.txt", arcname="hello.txt")
    assert main(["image", "import", str(rootfs), "imported:1"]) == 0
    assert capsys.readouterr().out.startswith("sha256:")
    assert main(["image", "ls"]) == 0
    listing = capsys.readouterr().out
    assert "imported" in listing and "proj-web" in listing


def test_errors_are_one_line(state_root: Path, project: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "rm", "nope"]) == 1
    err = capsys.readouterr().err
    assert "no such image" in err and "Traceback" not in err
    (project / "app" / "Dockerfile").write_text("FROM scratch\nCOPY missing /x\n")
    assert _cli(project, "build", "web") == 1
    err = capsys.readouterr().err
    assert "Dockerfile:2" in err and "not found" in err
    assert main(["image", "pull", "127.0.0.1:1/none"]) == 1
    assert "cannot reach registry" in capsys.readouterr().err


def test_prune(state_root: Path, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import engine.images as im

    assert _cli(project, "build", "-q") == 0
    web = im.resolve("proj-web")
    assert main(["image", "prune"]) == 0  # nothing dangling yet
    assert "Deleted" not in capsys.readouterr().out
    im.remove("proj-web")  # example/named:2 stays, tagged: only -a removes it
    assert main(["image", "prune", "-a", "--build-cache"]) == 0
    out = capsys.readouterr().out
    assert "Build cache entries removed" in out
    assert im.list_images() == [] and not any(d.exists() for d in web.layer_dirs)
