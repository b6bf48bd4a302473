"""The container lifecycle as an explicit table of allowed transitions.

``created → running ⇄ paused``, ``running → exited``, ``exited → running`` (start again) and
``restarting`` for restart policies; ``removing`` is entered by delete. Anything else is a
:class:`~engine.errors.Conflict` naming the operation and the current state.
"""
from __future__ import annotations

from engine.containers.spec import State
from engine.errors import Conflict

S = State

TRANSITIONS: dict[State, frozenset[State]] = {
    S.CREATED: frozenset({S.RUNNING, S.EXITED, S.REMOVING}),
    S.RUNNING: frozenset({S.PAUSED, S.EXITED, S.RESTARTING}),
    S.PAUSED: frozenset({S.RUNNING, S.EXITED}),
    S.RESTARTING: frozenset({S.RUNNING, S.EXITED, S.REMOVING}),
    S.EXITED: frozenset({S.RUNNING, S.RESTARTING, S.REMOVING}),
    S.REMOVING: frozenset({S.DEAD}),
    S.DEAD: frozenset({S.REMOVING}),
}

# Which state each operation needs, for errors that say what to do.
_VERB_HINT = {
    S.RUNNING: "start",
    S.PAUSED: "pause",
    S.EXITED: "stop",
    S.REMOVING: "remove",
    S.RESTARTING: "restart",
}


def can_transition(current: State, target: State) -> bool:
    """True when the lifecycle table allows ``current → target``."""
    return target in TRANSITIONS[current]


def check_transition(current: State, target: State, obj: str) -> None:
    """Raise Conflict unless ``current → target`` is allowed."""
    if can_transition(current, target):
        return
    verb = _VERB_HINT.get(target, target.value)
    raise Conflict(f"cannot {verb} a container that is {current.value}", step=verb, obj=obj)
