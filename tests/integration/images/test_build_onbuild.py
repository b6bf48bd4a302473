"""ONBUILD: triggers recorded in the image config run when another build starts FROM that
image, and are not passed on to it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import engine.images as im
from engine.images import catalog
from engine.images.builder.errors import BuildError
from engine.images.builder.parser import parse

pytestmark = pytest.mark.root
BUSYBOX = Path("/bin/busybox")


def test_onbuild_triggers_run_in_the_child_build(state_root: Path, tmp_path: Path) -> None:
    if not BUSYBOX.exists():
        pytest.skip("busybox-static missing (apt-get install busybox-static)")
    shutil.copy2(BUSYBOX, tmp_path / "busybox")
    (tmp_path / "marker").write_text("copied by the trigger\n")
    base = im.build(im.BuildSpec(context=tmp_path, tags=("onbase:1",), network="none",
                                 dockerfile_inline=(
        'FROM scratch\nCOPY busybox /bin/busybox\n'
        'RUN ["/bin/busybox","--install","-s","/bin"]\n'
        "ONBUILD COPY marker /marker\nONBUILD RUN echo triggered > /triggered\n")))
    assert base.config.on_build == ("COPY marker /marker", "RUN echo triggered > /triggered")
    child = im.build(im.BuildSpec(context=tmp_path, tags=("onchild:1",), network="none",
                                  dockerfile_inline="FROM onbase:1\nRUN cat /triggered\n"))
    files = {p.name: p.read_text() for layer in child.layer_dirs for p in layer.iterdir()
             if p.name in ("marker", "triggered")}
    assert files == {"marker": "copied by the trigger\n", "triggered": "triggered\n"}
    config = json.loads(catalog.config_bytes_of(child.id))["config"]
    assert not config.get("OnBuild")  # triggers do not reach grandchildren


@pytest.mark.parametrize("trigger", ["ONBUILD ONBUILD RUN x", "ONBUILD FROM x",
                                     "ONBUILD MAINTAINER me"])
def test_forbidden_triggers_name_the_line(trigger: str) -> None:
    with pytest.raises(BuildError, match="is not allowed") as info:
        parse(f"FROM scratch\n{trigger}\n")
    assert info.value.line == 2
