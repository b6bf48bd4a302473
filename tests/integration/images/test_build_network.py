"""RUN steps get docker's default network: a NATed namespace on the host-wide default bridge,
so a RUN reaches a server on the host through the bridge's gateway; ``network: none`` has only
loopback. The default bridge is gone again once the build is over."""
from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import engine.images as im
from engine import networks
from engine.images.builder.errors import BuildError

pytestmark = pytest.mark.root
BUSYBOX = Path("/bin/busybox")
PREFIX = 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n'


@pytest.fixture
def context(tmp_path: Path) -> Path:
    if not BUSYBOX.exists():
        pytest.skip("busybox-static missing (apt-get install busybox-static)")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    shutil.copy2(BUSYBOX, ctx / "busybox")
    return ctx


@pytest.fixture
def host_server(state_root: Path) -> Iterator[str]:
    """An HTTP server on the host, on the default bridge's gateway address (nowhere else)."""
    networks.ensure_default_bridge()
    gateway = networks.inspect_network(networks.DEFAULT_BRIDGE).gateway4
    assert gateway

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = b"from-the-host\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((gateway, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{gateway}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        networks.release_default_bridge()


def test_run_reaches_the_host_through_the_default_bridge(context: Path,
                                                         host_server: str) -> None:
    spec = im.BuildSpec(context=context, tags=("netbuild:1",), args=(("URL", host_server),),
                        dockerfile_inline=PREFIX + "ARG URL\n"
                        "RUN wget -q -O /fetched \"$URL\" && ip -4 route | grep -q default\n")
    image = im.build(spec)
    top = image.layer_dirs[-1]
    assert (top / "fetched").read_text() == "from-the-host\n"
    assert not (top / "etc" / "resolv.conf").exists()  # the step's mount point is not content
    networks.release_default_bridge()
    assert not networks.network_exists(networks.DEFAULT_BRIDGE)  # nothing left on the host


def test_network_none_has_only_loopback(context: Path, host_server: str) -> None:
    spec = im.BuildSpec(context=context, tags=("netnone:1",), network="none",
                        args=(("URL", host_server),),
                        dockerfile_inline=PREFIX + "ARG URL\nRUN wget -q -T 2 -O /f \"$URL\"\n")
    with pytest.raises(BuildError, match="exited with code"):
        im.build(spec)
