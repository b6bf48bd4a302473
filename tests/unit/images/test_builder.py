"""Builder steps that need no container (COPY/ADD/metadata), the cache and its GC roots."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import engine.images as im
from engine.images.builder import cache
from engine.images.builder.errors import BuildError
from engine.images.builder.stage import DEFAULT_PATH


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    c = tmp_path / "ctx"
    (c / "src/sub").mkdir(parents=True)
    (c / "src/a.py").write_text("a")
    (c / "src/b.py").write_text("b")
    (c / "src/sub/c.txt").write_text("c")
    (c / "src/notes.md").write_text("n")
    (c / "build").mkdir()
    (c / "build/out.o").write_text("o")
    (c / "build/keep.txt").write_text("k")
    (c / ".dockerignore").write_text("build\n!build/keep.txt\n**/*.md\n")
    return c


def _build(ctx: Path, text: str, events: list[im.Progress] | None = None,
           **kw: object) -> im.Image:
    spec = im.BuildSpec(context=ctx, dockerfile_inline=text, **kw)  # type: ignore[arg-type]
    return im.build(spec, progress=events.append if events is not None else None)


def _files(image: im.Image) -> set[str]:
    out = set()
    for layer in image.layer_dirs:
        for dirpath, _, files in os.walk(layer):
            for f in files:
                out.add(str(Path(dirpath, f).relative_to(layer)))
    return out


def test_copy_semantics_and_dockerignore(state_root: Path, ctx: Path) -> None:
    image = _build(ctx, "ARG DEST=/opt\nFROM scratch\nARG DEST\nENV D=$DEST/app\n"
                        "COPY src $D/\nCOPY src/*.py /py/\nCOPY src/a.py /single\n"
                        "COPY build/ /b/\nWORKDIR rel\nWORKDIR deeper\n")
    files = _files(image)
    assert {"opt/app/a.py", "opt/app/b.py", "opt/app/sub/c.txt"} <= files
    assert "opt/app/notes.md" not in files  # **/*.md ignored
    assert {"py/a.py", "py/b.py", "single", "b/keep.txt"} <= files
    assert "b/out.o" not in files  # 'build' excluded, only the '!' exception comes in
    assert image.config.working_dir == "/rel/deeper"
    assert image.config.env == (DEFAULT_PATH, "D=/opt/app")  # PATH: BuildKit's default


def test_cache_survives_image_removal_until_pruned(state_root: Path, ctx: Path) -> None:
    text = "FROM scratch\nCOPY src /src\nLABEL a=b\n"
    first = _build(ctx, text, tags=("c:1",))
    im.remove("c:1")
    events: list[im.Progress] = []
    again = _build(ctx, text, events, tags=("c:1",))
    assert again.id == first.id
    assert [e.status for e in events if "COPY" in e.what] == ["CACHED"]
    assert all(d.is_dir() for d in again.layer_dirs)
    im.remove("c:1")
    cache.prune()
    events.clear()
    _build(ctx, text, events)
    assert [e.status for e in events if "COPY" in e.what] == ["done"]


def test_cache_key_follows_content_and_args(state_root: Path, ctx: Path) -> None:
    text = "FROM scratch\nARG V=1\nCOPY src/a.py /a\n"
    _build(ctx, text)
    events: list[im.Progress] = []
    _build(ctx, text, events, args=(("V", "2"),))
    assert [e.status for e in events if "COPY" in e.what] == ["done"]
    (ctx / "src/a.py").write_text("changed")
    events.clear()
    _build(ctx, text, events, args=(("V", "2"),))
    assert [e.status for e in events if "COPY" in e.what] == ["done"]
    (ctx / "src/a.py").write_text("CHANGED")  # same size: the memoized hash must not hide it
    events.clear()
    image = _build(ctx, text, events, args=(("V", "2"),))
    assert [e.status for e in events if "COPY" in e.what] == ["done"]
    assert (image.layer_dirs[-1] / "a").read_text() == "CHANGED"


@pytest.mark.parametrize(("text", "kw", "match"), [
    ("FROM scratch\n", {"target": "nope"}, "target stage 'nope' not found"),
    ("FROM --platform=linux/s390x scratch\n", {}, "only the host platform"),
    ("ENV A=1\nFROM scratch\n", {}, "before the first FROM"),
    ("FROM scratch\nCOPY onlyone\n", {}, "at least one source"),
    ("FROM scratch\nCOPY ../etc/passwd /x\n", {}, "outside the build context"),
    ("FROM scratch\nCOPY --chown=ghost src/a.py /a\n", {}, "unknown user 'ghost'"),
    ("FROM scratch\nENV A=${B\n", {}, "missing"),
])
def test_clear_errors(state_root: Path, ctx: Path, text: str, kw: dict[str, object],
                      match: str) -> None:
    with pytest.raises(BuildError, match=match):
        _build(ctx, text, **kw)


def test_dockerfile_from_context(state_root: Path, ctx: Path) -> None:
    (ctx / "docker").mkdir()
    (ctx / "docker/App.dockerfile").write_text("FROM scratch\nCOPY src/a.py /a\nUSER 1\n")
    image = im.build(im.BuildSpec(context=ctx, dockerfile="docker/App.dockerfile"))
    assert image.config.user == "1" and "a" in _files(image)
    # a Dockerfile-specific ignore file wins over .dockerignore
    (ctx / "docker/App.dockerfile.dockerignore").write_text("src/a.py\n")
    with pytest.raises(BuildError, match="'src/a.py' not found"):
        im.build(im.BuildSpec(context=ctx, dockerfile="docker/App.dockerfile"))
    with pytest.raises(BuildError, match="cannot read Dockerfile"):
        im.build(im.BuildSpec(context=ctx, dockerfile="missing"))


def test_platform_args(state_root: Path, ctx: Path) -> None:
    from engine.images.imagestore import host_arch

    image = _build(ctx, "FROM --platform=$BUILDPLATFORM scratch\nARG TARGETARCH\n"
                        "ARG TARGETOS\nENV ARCH=$TARGETOS/$TARGETARCH\n")
    assert image.config.env == (DEFAULT_PATH, f"ARCH=linux/{host_arch()}")
