"""compose ``build:`` keys end to end through the CLI: build secrets, additional contexts
(``service:`` and a directory), RUN --mount and here-documents, with ``up`` and ``down``."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.orchestrator.conftest import Stack

pytestmark = [pytest.mark.root, pytest.mark.slow]

BASE_DF = ("FROM scratch\nCOPY busybox /bin/busybox\n"
           'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n')
APP_DF = """\
FROM base
COPY --from=notes n.txt /n.txt
RUN --mount=type=secret,id=token test "$(cat /run/secrets/token)" = tok-123 && echo ok > /ok
RUN <<EOF
echo from-heredoc > /h
EOF
"""
COMPOSE = """\
services:
  app:
    build:
      context: .
      dockerfile: app.Dockerfile
      additional_contexts:
        base: service:base
        notes: ./extra
      secrets:
        - source: tok
          target: token
    command: ["sh", "-c", "cat /n.txt /ok /h; ls /run/secrets 2>&1 || true"]
  base:
    build: {context: ., dockerfile: base.Dockerfile}
    image: buildkeys-base
    command: ["true"]
secrets:
  tok:
    file: ./tok.txt
"""


def test_build_secret_named_contexts_and_heredoc(stack: Stack) -> None:
    if not Path("/bin/busybox").exists():
        pytest.skip("busybox-static missing")
    shutil.copy2("/bin/busybox", stack.dir / "busybox")
    (stack.dir / "extra").mkdir()
    (stack.dir / "extra" / "n.txt").write_text("note-from-extra\n")
    (stack.dir / "tok.txt").write_text("tok-123")
    (stack.dir / "base.Dockerfile").write_text(BASE_DF)
    (stack.dir / "app.Dockerfile").write_text(APP_DF)
    stack.write(COMPOSE)
    built = stack.run("build", "app")  # builds base first: app's build uses its image
    assert built.stdout.index("base Built") < built.stdout.index("app Built")
    stack.run("up", "-d")
    stack.run("wait", "app")
    logs = stack.run("logs", "--no-color", "--no-log-prefix", "app").stdout
    assert logs.split()[:3] == ["note-from-extra", "ok", "from-heredoc"]
    assert "tok-123" not in logs  # the build secret is neither in the image nor mounted


def test_run_builds_the_images_its_build_uses_first(stack: Stack) -> None:
    """docker compose's TestComposeRunBuild: ``run`` of a service whose build uses another
    service's image (``service:base``) builds that image first, on a fresh project."""
    if not Path("/bin/busybox").exists():
        pytest.skip("busybox-static missing")
    shutil.copy2("/bin/busybox", stack.dir / "busybox")
    (stack.dir / "base.Dockerfile").write_text(BASE_DF)
    stack.write("""\
services:
  app:
    build:
      context: .
      dockerfile_inline: "FROM base\\nRUN echo built-on-base | tee /b\\n"
      additional_contexts:
        base: service:base
  base:
    build: {context: ., dockerfile: base.Dockerfile}
    image: runbuild-base
""")
    out = stack.run("run", "--rm", "-T", "app", "cat", "/b")
    assert out.stdout == "built-on-base\n", out.stdout + out.stderr
    built = stack.run("build", "--no-cache", "app")  # RUN output is shown, as docker does
    assert "app | Dockerfile (inline):2: built-on-base" in built.stdout, built.stdout
    stack.run("down", "--rmi", "all")
