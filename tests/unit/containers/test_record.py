"""The containers table and spec (de)serialization."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.containers import record
from engine.containers.spec import (
    ContainerSpec,
    Mount,
    MountType,
    NetworkMode,
    Resources,
    State,
)
from engine.errors import Conflict, NotFound


def _spec(name: str = "web-1") -> ContainerSpec:
    return ContainerSpec(
        name=name, argv=("sh", "-c", "x"), layers=(Path("/a"), Path("/b")),
        labels={"com.docker.compose.project": "p"}, env=("A=1",), user="app",
        mounts=(Mount(MountType.TMPFS, "/t", tmpfs_size=10),
                Mount(MountType.BIND, "/d", "/src", read_only=True)),
        ulimits={"nofile": (10, 20)}, resources=Resources(memory=1 << 20, cpus=0.5),
        network_mode=NetworkMode.HOST, sysctls={"net.x": "1"})


def test_spec_round_trip() -> None:
    spec = _spec()
    assert record.spec_from_json(record.spec_to_json(spec)) == spec


def test_insert_get_update_remove(state_root: Path) -> None:
    info = record.insert("c" * 64, _spec())
    assert info.state is State.CREATED and info.labels == {"com.docker.compose.project": "p"}
    assert record.get("web-1").id == "c" * 64
    assert record.get("cccc").id == "c" * 64  # unique prefix
    assert record.transition(info.id, State.EXITED, exit_code=137, oom_killed=1) \
        is State.CREATED
    got = record.get(info.id)
    assert (got.state, got.exit_code, got.oom_killed) == (State.EXITED, 137, True)
    with pytest.raises(Conflict, match="already in use"):
        record.insert("d" * 64, _spec())
    record.insert("ccc" + "d" * 61, _spec("web-2"))
    with pytest.raises(Conflict, match="ambiguous"):
        record.get("ccc")
    with pytest.raises(NotFound):
        record.get("cc")  # prefixes shorter than 3 characters are not looked up
    record.remove(info.id)
    with pytest.raises(NotFound):
        record.get("web-1")
    assert [i.name for i in record.all_rows()] == ["web-2"]


def test_state_changes_only_through_the_transition_table(state_root: Path) -> None:
    info = record.insert("e" * 64, _spec())
    with pytest.raises(ValueError, match="state"):
        record.update(info.id, state=State.RUNNING)  # bypassing the table is refused
    with pytest.raises(ValueError, match="name"):
        record.update(info.id, name="other")
    with pytest.raises(Conflict, match="cannot pause a container that is created"):
        record.transition(info.id, State.PAUSED, pid=1)
    assert record.raw(info.id)["pid"] == 0  # a refused transition writes nothing
    record.transition(info.id, State.RUNNING, pid=42)
    assert (record.get(info.id).state, record.get(info.id).pid) == (State.RUNNING, 42)
    record.remove(info.id)
    with pytest.raises(NotFound):
        record.transition(info.id, State.EXITED)
