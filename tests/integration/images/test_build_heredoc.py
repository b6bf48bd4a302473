"""RUN heredocs build for real: a script body, and commands reading heredocs on stdin with
the shell's expansion rules (none in a quoted one)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engine.images as im

pytestmark = pytest.mark.root
BUSYBOX = Path("/bin/busybox")

DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV WHO=builder
RUN <<EOF
mkdir -p /out
echo "script by $WHO" > /out/script
EOF
RUN cat > /out/quoted <<'END' && cat > /out/plain <<END2
literal $WHO
END
expanded $WHO
END2
"""


def test_run_heredocs(state_root: Path, tmp_path: Path) -> None:
    if not BUSYBOX.exists():
        pytest.skip("busybox-static missing (apt-get install busybox-static)")
    shutil.copy2(BUSYBOX, tmp_path / "busybox")
    image = im.build(im.BuildSpec(context=tmp_path, tags=("heredoc:1",), network="none",
                                  dockerfile_inline=DOCKERFILE))
    files = {p.name: p.read_text() for layer in image.layer_dirs
             for p in (layer / "out").glob("*") if p.is_file()}
    assert files == {"script": "script by builder\n", "quoted": "literal $WHO\n",
                     "plain": "expanded builder\n"}
