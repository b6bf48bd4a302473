"""What modern Dockerfiles use, built for real: RUN on a NATed network by default, RUN --mount
(cache, secret, bind, tmpfs), here-documents, ONBUILD, named contexts and cache_from."""
from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.images as im
from engine.images.builder import cache
from engine.images.builder.errors import BuildError

pytestmark = pytest.mark.root
BUSYBOX = Path("/bin/busybox")
BASE = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'


@pytest.fixture
def ctx(tmp_path: Path, state_root: Path) -> Iterator[Path]:
    """A build context with busybox; afterwards no mount, network or sandbox of the build may
    remain (bridges: the networks' records are gone, and other tests make bridges meanwhile,
    so a host-wide bridge count would not say whose they are)."""
    if not BUSYBOX.exists():
        pytest.skip("busybox-static missing")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy2(BUSYBOX, ctx / "busybox")
    yield ctx
    from engine import networks

    assert networks.list_networks() == []
    assert str(state_root) not in Path("/proc/self/mountinfo").read_text()
    assert not list((state_root / "netns").glob("*")) if (state_root / "netns").exists() \
        else True


def _file(image: im.Image, rel: str) -> bytes | None:
    for layer in reversed(image.layer_dirs):
        path = layer / rel
        if path.is_file():
            return path.read_bytes()
    return None


def _all_bytes(image: im.Image) -> bytes:
    data = b""
    for layer in image.layer_dirs:
        for path in layer.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.name != "busybox":
                data += path.read_bytes()
    return data


def test_cache_mount_survives_a_rebuild_and_stays_out_of_the_layer(ctx: Path) -> None:
    df = BASE + ("RUN --mount=type=cache,target=/var/cache/app,id=appcache "
                 "sh -c 'echo run >> /var/cache/app/log; wc -l < /var/cache/app/log > /count'\n")
    first = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df))
    second = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df, no_cache=True))
    assert (_file(first, "count") or b"").strip() == b"1"
    assert (_file(second, "count") or b"").strip() == b"2"
    assert not any((layer / "var/cache/app").exists() for layer in second.layer_dirs)


def test_secret_is_mounted_and_absent_from_every_layer(ctx: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text("s3cret-value-42")
    monkeypatch.setenv("BUILD_TOKEN_ENV", "env-secret-77")
    df = BASE + (
        "RUN --mount=type=secret,id=tok "
        "test \"$(cat /run/secrets/tok)\" = s3cret-value-42 && echo ok > /ok\n"
        "RUN --mount=type=secret,id=envtok,env=TOKEN test \"$TOKEN\" = env-secret-77 "
        "&& echo ok > /ok2\n"
        "RUN --mount=type=secret,id=absent ls /run/secrets/absent 2>/dev/null || "
        "echo none > /absent\n")
    image = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df, secrets=(
        im.BuildSecret("tok", file=secret), im.BuildSecret("envtok", env="BUILD_TOKEN_ENV"))))
    assert _file(image, "ok") == b"ok\n" and _file(image, "ok2") == b"ok\n"
    assert _file(image, "absent") == b"none\n"
    everything = _all_bytes(image)
    assert b"s3cret-value-42" not in everything and b"env-secret-77" not in everything
    assert not any((layer / "run").exists() for layer in image.layer_dirs)
    with pytest.raises(BuildError, match=r":4.*secret 'need' is required"):
        im.build(im.BuildSpec(context=ctx, dockerfile_inline=BASE + (
            "RUN --mount=type=secret,id=need,required true\n")))


def test_heredocs_for_run_and_copy(ctx: Path) -> None:
    df = BASE + (
        "ARG WHO=world\n"
        "RUN <<EOF\n"
        "echo one > /one\n"
        "echo two >> /one\n"
        "EOF\n"
        "COPY <<greeting.txt <<'raw.txt' /etc/\n"
        "hello $WHO\n"
        "greeting.txt\n"
        "keep $WHO\n"
        "raw.txt\n"
        "RUN <<EOF\n"
        "#!/bin/sh\n"
        "echo \"script as $0\" > /script\n"
        "EOF\n"
        "RUN cat > /fed <<EOF\n"
        "fed line\n"
        "EOF\n")
    image = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df))
    assert _file(image, "one") == b"one\ntwo\n"
    assert _file(image, "etc/greeting.txt") == b"hello world\n"
    assert _file(image, "etc/raw.txt") == b"keep $WHO\n"
    assert _file(image, "script") == b"script as /dev/pipes/EOF\n"
    assert _file(image, "fed") == b"fed line\n"
    assert not any((layer / "dev/pipes").exists() for layer in image.layer_dirs)


class _HostServer:
    """A TCP server on the host that answers one line to whoever connects."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))  # the build's gateway address is not known yet
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.peers: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                return
            self.peers.append(peer[0])
            with conn:
                conn.sendall(b"hello-from-host\n")


def test_run_reaches_the_host_through_the_default_nat_and_none_has_no_network(
        ctx: Path) -> None:
    server = _HostServer()
    try:
        fetch = ("RUN gw=$(ip route | awk '/^default/ {print $3}') && "
                 f"nc -w 5 $gw {server.port} < /dev/null > /got && cat /etc/resolv.conf "
                 "> /resolv && hostname > /host\n")
        image = im.build(im.BuildSpec(context=ctx, dockerfile_inline=BASE + fetch))
        assert _file(image, "got") == b"hello-from-host\n"
        assert b"nameserver 127.0.0.11" in (_file(image, "resolv") or b"")
        assert _file(image, "host") == b"buildkitsandbox\n"
        assert not any((layer / "etc/resolv.conf").exists() for layer in image.layer_dirs)
        assert server.peers and all(p != "127.0.0.1" for p in server.peers)
        with pytest.raises(BuildError, match="exited with code"):
            im.build(im.BuildSpec(context=ctx, network="none", dockerfile_inline=BASE + fetch))
        with pytest.raises(BuildError, match=r":4.*network=host needs"):
            im.build(im.BuildSpec(context=ctx, dockerfile_inline=BASE + "RUN --network=host "
                                  "true\n"))
    finally:
        server.sock.close()


def test_bind_and_tmpfs_mounts(ctx: Path) -> None:
    (ctx / "data").mkdir()
    (ctx / "data" / "in.txt").write_text("from context\n")
    df = BASE + (
        "RUN --mount=type=bind,source=data,target=/mnt/data cp /mnt/data/in.txt /copied && "
        "(touch /mnt/data/new 2>/dev/null && echo writable || echo readonly) > /mode\n"
        "RUN --mount=type=bind,source=data,target=/mnt/data,rw touch /mnt/data/scratch && "
        "echo wrote > /rw\n"
        "RUN --mount=type=tmpfs,target=/scratch,size=1m df /scratch | tail -1 > /tmpfs\n")
    image = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df))
    assert _file(image, "copied") == b"from context\n"
    assert _file(image, "mode") == b"readonly\n" and _file(image, "rw") == b"wrote\n"
    assert not (ctx / "data" / "scratch").exists()  # rw bind writes are discarded
    assert b"tmpfs" in (_file(image, "tmpfs") or b"")
    assert not any((layer / "mnt").exists() or (layer / "scratch").exists()
                   for layer in image.layer_dirs)
    events: list[im.Progress] = []
    (ctx / "data" / "in.txt").write_text("changed\n")
    changed = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df), progress=events.append)
    assert _file(changed, "copied") == b"changed\n"  # the bind's content is in the cache key


def test_onbuild_triggers_run_in_the_child_only(ctx: Path) -> None:
    base = im.build(im.BuildSpec(context=ctx, tags=("onbuild-base:1",), dockerfile_inline=(
        BASE + "ONBUILD RUN echo triggered > /trigger\nONBUILD COPY busybox /copied\n")))
    assert _file(base, "trigger") is None
    child = im.build(im.BuildSpec(context=ctx, dockerfile_inline="FROM onbuild-base:1\n"))
    assert _file(child, "trigger") == b"triggered\n" and _file(child, "copied") is not None
    assert child.config.on_build == ()
    assert base.config.on_build == ("RUN echo triggered > /trigger", "COPY busybox /copied")


def test_additional_contexts(ctx: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note").write_text("from a named context\n")
    im.build(im.BuildSpec(context=ctx, tags=("named-base:1",), dockerfile_inline=BASE))
    df = ("FROM base\nCOPY --from=notes note /note\n"
          "RUN --mount=type=bind,from=notes,target=/n cp /n/note /note2\n")
    image = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df, additional_contexts=(
        ("base", "docker-image://named-base:1"), ("notes", str(extra)))))
    assert _file(image, "note") == b"from a named context\n"
    assert _file(image, "note2") == b"from a named context\n"


def test_cache_from_a_local_image_reuses_its_layers(ctx: Path) -> None:
    df = BASE + "RUN date +%s%N > /stamp\n"
    first = im.build(im.BuildSpec(context=ctx, tags=("cf-src:1",), dockerfile_inline=df))
    cache.prune()  # the build cache is gone; only the image is left
    events: list[im.Progress] = []
    again = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df, cache_from=("cf-src:1",)),
                     progress=events.append)
    assert _file(again, "stamp") == _file(first, "stamp")
    assert again.id == first.id
    assert sum(e.status == "CACHED" for e in events) == 3  # COPY, RUN --install, RUN date
    cache.prune()
    fresh = im.build(im.BuildSpec(context=ctx, dockerfile_inline=df))
    assert _file(fresh, "stamp") != _file(first, "stamp")


def test_ssh_mounts_and_unknown_options_are_rejected_with_the_line(ctx: Path) -> None:
    for bad, what in (("RUN --mount=type=ssh true", "type=ssh is not supported"),
                      ("RUN --mount=type=cache,target=/c,bogus=1 true", "unknown option"),
                      ("RUN --security=insecure true", "security=insecure needs")):
        with pytest.raises(BuildError, match=rf":4.*{what}"):
            im.build(im.BuildSpec(context=ctx, dockerfile_inline=BASE + bad + "\n"))
    assert os.listdir(ctx)  # the context is untouched
