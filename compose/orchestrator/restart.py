"""Restart policies with docker's semantics and back-off (pure; the supervisor applies them).

- ``no``: never; ``always``: after any exit (also on supervisor re-adoption); ``on-failure[:N]``:
  after a non-zero exit, at most N times; ``unless-stopped``: like always unless the user
  stopped it. A container stopped by the user (``stop``/``down``) is never restarted.
- ``deploy.restart_policy`` (when ``restart`` is unset): condition ``none`` → no, ``on-failure``
  → on-failure with ``max_attempts``, ``any`` (default) → always; ``delay`` is the first back-off
  delay; an exit after running at least ``window`` seconds does not count as an attempt.
- back-off (docker's restart manager): 100 ms, doubling after each restart of a container that
  ran less than 10 s, at most 1 min, reset when it ran 10 s or more.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from compose.errors import ComposeError

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
BACKOFF_RESET_AFTER = 10.0


class PolicyName(enum.Enum):
    NO = "no"
    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    UNLESS_STOPPED = "unless-stopped"


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """A container's restart policy, as the supervisor applies it."""
    name: PolicyName = PolicyName.NO
    max_retries: int = 0  # 0 = unlimited (on-failure only)
    delay: float = BACKOFF_START
    window: float = 0.0
    auto_remove: bool = False  # run --rm -d: removed once it exits (docker's AutoRemove)


@dataclass(frozen=True, slots=True)
class RestartState:
    """Per-container restart bookkeeping."""

    count: int = 0
    backoff: float = 0.0  # the delay used for the previous restart (0 before the first)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to restart an exited container, after which delay, and the state after."""
    restart: bool
    delay: float = 0.0
    state: RestartState = RestartState()


def parse_restart(value: str | None) -> RestartPolicy:
    """Parse a service ``restart:`` string (``no``, ``always``, ``on-failure[:N]``, ...)."""
    if value is None or value in ("", "no"):
        return RestartPolicy()
    name, _, count = value.partition(":")
    try:
        policy = PolicyName(name)
    except ValueError:
        raise ComposeError(f"invalid restart policy {value!r}") from None
    if count and policy is not PolicyName.ON_FAILURE:
        raise ComposeError(f"restart policy {name!r} takes no maximum retry count")
    if count and (not count.isdigit()):
        raise ComposeError(f"invalid restart policy {value!r}: {count!r} is not a number")
    return RestartPolicy(policy, int(count or 0))


def policy_for_service(service: Any) -> RestartPolicy:
    """The policy of a model Service: ``restart`` wins, then ``deploy.restart_policy``."""
    if service.restart:
        return parse_restart(service.restart)
    rp = service.deploy.restart_policy if service.deploy is not None else None
    if rp is None:
        return RestartPolicy()
    condition = rp.condition or "any"
    names = {"none": PolicyName.NO, "on-failure": PolicyName.ON_FAILURE, "any": PolicyName.ALWAYS}
    if condition not in names:
        raise ComposeError(f"service {service.name!r}: invalid restart_policy condition "
                           f"{condition!r}")
    return RestartPolicy(names[condition], int(rp.max_attempts or 0),
                         float(rp.delay) if rp.delay else BACKOFF_START, float(rp.window or 0))


def decide_restart(policy: RestartPolicy, state: RestartState, exit_code: int,
                   ran_for: float, stopped_by_user: bool) -> Decision:
    """Whether (and after how long) to restart a container that exited with ``exit_code``
    after running ``ran_for`` seconds."""
    if stopped_by_user or policy.name is PolicyName.NO:
        return Decision(False, state=state)
    if policy.name is PolicyName.ON_FAILURE:
        if exit_code == 0:
            return Decision(False, state=state)
        counts = not (policy.window and ran_for >= policy.window)
        if counts and policy.max_retries and state.count >= policy.max_retries:
            return Decision(False, state=state)
    start = max(policy.delay, BACKOFF_START)
    if state.backoff == 0.0 or ran_for >= BACKOFF_RESET_AFTER:
        delay = start
    else:
        delay = min(state.backoff * 2, BACKOFF_MAX)
    return Decision(True, delay, RestartState(state.count + 1, delay))


def restarts_on_adoption(policy: RestartPolicy) -> bool:
    """Whether a container found exited when a supervisor (re)adopts it should be started."""
    return policy.name in (PolicyName.ALWAYS, PolicyName.UNLESS_STOPPED)
