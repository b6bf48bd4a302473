"""The Dockerfile builder end to end, RUN steps in real engine containers."""
from __future__ import annotations

import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.images as im
from engine.images.builder.errors import BuildError
from engine.images.layers import is_opaque

pytestmark = pytest.mark.root
BUSYBOX = Path("/bin/busybox")

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG GREETING=hello
FROM scratch AS tools
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG GREETING
ENV APP_HOME=/srv/app
WORKDIR $APP_HOME
COPY --chown=1000:1000 app/ ./
RUN echo "$GREETING from $(pwd)" > greeting.txt && rm /bin/wget

FROM tools AS final
COPY --from=tools /srv/app/greeting.txt /etc/greeting
USER 1000
CMD ["cat", "/etc/greeting"]
HEALTHCHECK --interval=10s CMD test -f /etc/greeting
"""


@pytest.fixture(autouse=True)
def _nothing_left(state_root: Path) -> Iterator[None]:
    """Build steps must leave no mount, container or scratch dir behind."""
    yield
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(state_root) not in mounts
    tmp = state_root / "images" / "tmp"
    assert not tmp.exists() or os.listdir(tmp) == []
    containers = state_root / "containers"
    assert not containers.exists() or os.listdir(containers) == []


def _run_in(image: im.Image, tmp_path: Path, *argv: str) -> tuple[int, bytes]:
    from engine.containers import run_build_step

    tmp_path.mkdir(exist_ok=True)
    upper = tmp_path / f"upper-{len(list(tmp_path.iterdir()))}"
    try:
        return run_build_step(layers=image.layer_dirs, upper_dir=upper, argv=list(argv))
    finally:
        shutil.rmtree(upper, ignore_errors=True)


@pytest.fixture
def context(tmp_path: Path) -> Path:
    if not BUSYBOX.exists():
        pytest.skip("busybox-static missing")
    ctx = tmp_path / "ctx"
    (ctx / "app").mkdir(parents=True)
    shutil.copy2(BUSYBOX, ctx / "busybox")
    (ctx / "app" / "main.sh").write_text("echo main\n")
    (ctx / "app" / "secret.key").write_text("nope\n")
    (ctx / ".dockerignore").write_text("app/*.key\n")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    return ctx


def test_scratch_busybox_install_runs(state_root: Path, tmp_path: Path) -> None:
    if not BUSYBOX.exists():
        pytest.skip("busybox-static missing")
    ctx = tmp_path / "c"
    ctx.mkdir()
    shutil.copy2(BUSYBOX, ctx / "busybox")
    spec = im.BuildSpec(context=ctx, tags=("bbtest:1",), dockerfile_inline=(
        'FROM scratch\nCOPY busybox /bin/busybox\n'
        'RUN ["/bin/busybox","--install","-s","/bin"]\n'))
    image = im.build(spec)
    assert image.repo_tags == ("docker.io/library/bbtest:1",)
    code, out = _run_in(image, tmp_path / "runs", "/bin/sh", "-c", "echo works; ls /bin | wc -l")
    assert code == 0, out
    lines = out.decode().split()
    assert lines[0] == "works" and int(lines[1]) > 100


def test_multistage_build_cache_and_metadata(state_root: Path, tmp_path: Path,
                                             context: Path) -> None:
    events: list[im.Progress] = []
    spec = im.BuildSpec(context=context, tags=("app:1",), args=(("GREETING", "hi"),),
                        labels=(("org.example", "yes"),))
    image = im.build(spec, progress=events.append)
    cfg = image.config
    assert cfg.cmd == ("cat", "/etc/greeting") and cfg.user == "1000"
    assert cfg.working_dir == "/srv/app" and ("APP_HOME=/srv/app" in cfg.env)
    assert cfg.labels_dict() == {"org.example": "yes"}
    assert cfg.healthcheck and cfg.healthcheck.interval == 10_000_000_000
    code, out = _run_in(image, tmp_path / "runs", "/bin/sh", "-c",
                        "cat /etc/greeting; ls /srv/app; stat -c %u /srv/app/main.sh;"
                        " test -e /bin/wget || echo no-wget")
    assert code == 0, out
    assert out.decode().split("\n")[:5] == ["hi from /srv/app", "greeting.txt", "main.sh",
                                            "1000", "no-wget"]
    # a whiteout in the RUN layer hides wget
    whiteouts = [d / "bin/wget" for d in image.layer_dirs if (d / "bin/wget").is_char_device()]
    assert whiteouts and os.stat(whiteouts[0]).st_rdev == 0
    assert not any((d / "srv/app/secret.key").exists() for d in image.layer_dirs)

    events.clear()
    again = im.build(spec, progress=events.append)
    assert again.id == image.id
    # COPY, RUN, WORKDIR (creates the dir), COPY, RUN, COPY --from: every one a cache hit
    assert sum(e.status == "CACHED" for e in events) == 6
    assert not [e for e in events if e.status == "done" and e.what.split()[1] in
                ("COPY", "RUN")]

    (context / "app" / "main.sh").write_text("echo changed\n")
    events.clear()
    changed = im.build(spec, progress=events.append)
    assert changed.id != image.id
    assert sum(e.status == "CACHED" for e in events) == 3  # the steps before COPY app/


def test_target_and_no_cache(state_root: Path, context: Path) -> None:
    tools = im.build(im.BuildSpec(context=context, target="tools", tags=("tools:1",)))
    assert tools.config.cmd is None and tools.config.user == ""
    events: list[im.Progress] = []
    im.build(im.BuildSpec(context=context, target="tools", no_cache=True),
             progress=events.append)
    assert not any(e.status == "CACHED" for e in events)


def test_add_tarball_and_errors(state_root: Path, tmp_path: Path, rootfs_tar: Path) -> None:
    ctx = tmp_path / "addctx"
    ctx.mkdir()
    shutil.copy2(rootfs_tar, ctx / "rootfs.tar")
    image = im.build(im.BuildSpec(context=ctx, dockerfile_inline=(
        "FROM scratch\nADD rootfs.tar /\nCOPY --chmod=600 rootfs.tar /keep/r.tar\n")))
    assert (image.layer_dirs[0] / "bin/busybox").is_file()
    assert stat.S_IMODE(os.stat(image.layer_dirs[1] / "keep/r.tar").st_mode) == 0o600
    with pytest.raises(BuildError, match=r"Dockerfile \(inline\):2.*not found"):
        im.build(im.BuildSpec(context=ctx, dockerfile_inline="FROM scratch\nCOPY nope /x\n"))
    with pytest.raises(BuildError, match=r":2.*no network"):
        im.build(im.BuildSpec(context=ctx, dockerfile_inline=(
            "FROM scratch\nADD https://example.invalid/x /x\n")))
    with pytest.raises(BuildError, match=r":3.*exited with code 3"):
        im.build(im.BuildSpec(context=ctx, dockerfile_inline=(
            "FROM scratch\nADD rootfs.tar /\nRUN exit 3\n")))
    with pytest.raises(BuildError, match=r":1.*cannot be pulled"):
        im.build(im.BuildSpec(context=ctx, dockerfile_inline="FROM 127.0.0.1:1/none\n"))


def test_run_replacing_a_directory_makes_it_opaque(state_root: Path, tmp_path: Path,
                                                    context: Path) -> None:
    base = im.build(im.BuildSpec(context=context, target="tools", tags=("tools:op",)))
    image = im.build(im.BuildSpec(context=context, dockerfile_inline=(
        "FROM tools:op\nRUN rm -rf /srv/app && mkdir /srv/app && echo new > /srv/app/only\n")))
    top = image.layer_dirs[-1]
    assert is_opaque(top / "srv/app")
    assert len(image.layer_dirs) == len(base.layer_dirs) + 1
    code, out = _run_in(image, tmp_path / "runs", "/bin/ls", "/srv/app")
    assert code == 0 and out.decode().split() == ["only"]
    # the pushed/saved form carries the OCI opaque marker
    archive = tmp_path / "op.tar"
    im.save([image.id], archive)
    with tarfile.open(archive) as tf:
        name = f"{image.diff_ids[-1].removeprefix('sha256:')}/layer.tar"
        inner = tf.extractfile(name)
        assert inner is not None
        with tarfile.open(fileobj=inner) as layer:
            assert "srv/app/.wh..wh..opq" in layer.getnames()


def test_copy_from_an_image(state_root: Path, tmp_path: Path, rootfs_tar: Path) -> None:
    im.import_rootfs(rootfs_tar, "src-image:1")
    ctx = tmp_path / "fromimg"
    ctx.mkdir()
    image = im.build(im.BuildSpec(context=ctx, dockerfile_inline=(
        "FROM scratch\nCOPY --from=src-image:1 /etc/passwd /etc/group /etc/\n"
        "COPY --from=src-image:1 /bin/busybox /bin/\n")))
    files = {p.name for d in image.layer_dirs for p in d.rglob("*")}
    assert {"passwd", "group", "busybox"} <= files
