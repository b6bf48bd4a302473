"""The lifecycle transition table."""
from __future__ import annotations

import pytest

from engine.containers.spec import State
from engine.containers.states import TRANSITIONS, can_transition, check_transition
from engine.errors import Conflict


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(State)


@pytest.mark.parametrize(("current", "target"), [
    (State.CREATED, State.RUNNING), (State.RUNNING, State.PAUSED), (State.PAUSED, State.RUNNING),
    (State.RUNNING, State.EXITED), (State.EXITED, State.RUNNING), (State.EXITED, State.REMOVING),
    (State.RUNNING, State.RESTARTING), (State.RESTARTING, State.RUNNING),
])
def test_allowed(current: State, target: State) -> None:
    assert can_transition(current, target)
    check_transition(current, target, "c")


@pytest.mark.parametrize(("current", "target"), [
    (State.CREATED, State.PAUSED), (State.EXITED, State.PAUSED), (State.PAUSED, State.PAUSED),
    (State.RUNNING, State.RUNNING), (State.RUNNING, State.REMOVING),
    (State.REMOVING, State.RUNNING),
])
def test_refused_with_a_conflict_naming_the_state(current: State, target: State) -> None:
    with pytest.raises(Conflict, match=current.value):
        check_transition(current, target, "c")
