"""RUN --mount: a cache that survives a rebuild and never enters a layer, a secret mounted for
one step and absent from every layer, a read-only bind of the context, a tmpfs."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engine.images as im
from engine.images.builder.errors import BuildError

pytestmark = pytest.mark.root
BUSYBOX = Path("/bin/busybox")
PREFIX = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n'
SECRET = b"s3cret-token-value"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    if not BUSYBOX.exists():
        pytest.skip("busybox-static missing (apt-get install busybox-static)")
    ctx = tmp_path / "ctx"
    (ctx / "data").mkdir(parents=True)
    shutil.copy2(BUSYBOX, ctx / "busybox")
    (ctx / "data" / "x").write_text("from the context\n")
    return ctx


def _all_bytes(image: im.Image) -> bytes:
    return b"".join(p.read_bytes() for layer in image.layer_dirs for p in layer.rglob("*")
                    if p.is_file() and not p.is_symlink() and p.name != "busybox")


def test_cache_mount_survives_a_rebuild(context: Path, state_root: Path) -> None:
    df = PREFIX + ("RUN --mount=type=cache,target=/var/cache/app "
                   "echo run >> /var/cache/app/log && wc -l < /var/cache/app/log > /count\n")
    first = im.build(im.BuildSpec(context=context, tags=("cache:1",), network="none",
                                  dockerfile_inline=df))
    assert (first.layer_dirs[-1] / "count").read_text().strip() == "1"
    again = im.build(im.BuildSpec(context=context, tags=("cache:2",), network="none",
                                  dockerfile_inline=df, no_cache=True))
    top = again.layer_dirs[-1]
    assert (top / "count").read_text().strip() == "2"  # the cache kept the first run's line
    assert not (top / "var").exists()  # neither the cache nor its mount point is content


def test_secret_is_mounted_for_the_step_and_in_no_layer(context: Path,
                                                         state_root: Path) -> None:
    df = PREFIX + ("RUN --mount=type=secret,id=token,required=true "
                   "wc -c < /run/secrets/token > /length && "
                   "cp /run/secrets/token /leak 2>/dev/null; rm -f /leak\n"
                   "RUN --mount=type=bind,source=data,target=/data cp /data/x /copied "
                   "&& ! touch /data/new 2>/dev/null\n"
                   "RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/t && "
                   "grep -q ' /scratch tmpfs ' /proc/mounts\n")
    image = im.build(im.BuildSpec(context=context, tags=("secret:1",), network="none",
                                  dockerfile_inline=df,
                                  secrets=(im.BuildSecret("token", content=SECRET),)))
    layers = image.layer_dirs
    assert (layers[-3] / "length").read_text().strip() == str(len(SECRET))
    assert SECRET not in _all_bytes(image)
    assert not any((layer / "run").exists() for layer in layers)
    assert (layers[-2] / "copied").read_text() == "from the context\n"
    assert not any((layer / "scratch").exists() or (layer / "data").exists()
                   for layer in layers)


def test_a_required_secret_that_is_missing_names_the_line(context: Path,
                                                          state_root: Path) -> None:
    df = PREFIX + "RUN --mount=type=secret,id=absent,required=true true\n"
    with pytest.raises(BuildError, match="secret 'absent' is required") as info:
        im.build(im.BuildSpec(context=context, tags=("secret:2",), network="none",
                              dockerfile_inline=df))
    assert info.value.line == 4
