"""OCI hooks: prestart/createRuntime see the new namespaces, poststart and poststop run too."""
from __future__ import annotations

import json
import os

import pytest

from engine.errors import EngineError
from tests.integration.runtime.bundles import make_config, write_bundle
from tests.integration.runtime.conftest import Env, wait

pytestmark = pytest.mark.root


def _hook(log: str, tag: str) -> dict[str, object]:
    # The hook records its name, the state it got on stdin and the init's uts namespace.
    script = (f'read -r state; pid=$(echo "$state" | sed "s/.*\\"pid\\": *\\([0-9]*\\).*/\\1/");'
              f' echo "{tag} $(readlink /proc/$pid/ns/uts 2>/dev/null) $state" >> {log}')
    return {"path": "/bin/sh", "args": ["sh", "-c", script]}


def test_hooks_run_in_order_with_state(env: Env) -> None:
    log = env.tmp / "hooks.log"
    config = make_config(["true"])
    config["hooks"] = {k: [_hook(str(log), k)]
                       for k in ("createRuntime", "prestart", "poststart", "poststop")}
    write_bundle(env.bundle, config)
    cid = env.new_id()
    pid, _ = env.create(cid)
    init_uts = os.readlink(f"/proc/{pid}/ns/uts")
    env.rt.start(cid)
    assert wait(pid) == 0
    env.rt.delete(cid)
    lines = log.read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["createRuntime", "prestart", "poststart",
                                                   "poststop"]
    first = lines[0].split(" ", 2)
    assert first[1] == init_uts  # the container's namespaces existed when the hook ran
    state = json.loads(first[2])
    assert state["id"] == cid and state["pid"] == pid and state["status"] == "creating"
    assert json.loads(lines[3].split(" ", 2)[2].lstrip())["status"] == "stopped"


def test_failing_prestart_hook_fails_create(env: Env) -> None:
    config = make_config(["true"])
    config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
    write_bundle(env.bundle, config)
    cid = env.new_id()
    with pytest.raises(EngineError, match="prestart hook.*exit status 3"):
        env.create(cid)
    assert not (env.rt.root / cid).exists()
