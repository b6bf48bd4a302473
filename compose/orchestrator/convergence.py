"""Convergence as a pure function: (desired services, observed containers) → plan of actions.

Rules (docker compose v2's):

- a container whose config hash or image differs from the desired one is recreated (unless
  ``--no-recreate``); ``--force-recreate`` recreates everything;
- a stopped/created container that is current is started; a running current one is left alone;
- missing replicas are created with the next free numbers; surplus ones are removed, the
  obsolete and the highest-numbered first;
- when a service is recreated, services that reference its container (``network_mode:
  service:x``, ``volumes_from: x``) are recreated as well, and services whose ``depends_on`` entry
  for it says ``restart: true`` are restarted;
- containers of the project whose service is not desired are orphans (removed with
  ``--remove-orphans``, otherwise reported).
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class Action(enum.Enum):
    CREATE = "create"
    RECREATE = "recreate"
    START = "start"
    RESTART = "restart"
    NOOP = "noop"
    REMOVE = "remove"


class RecreatePolicy(enum.Enum):
    DIVERGED = "diverged"  # default: recreate what changed
    FORCE = "force"  # --force-recreate
    NEVER = "never"  # --no-recreate


@dataclass(frozen=True, slots=True)
class DesiredService:
    """What one service should look like."""

    name: str
    config_hash: str
    scale: int = 1
    image_id: str | None = None  # None: do not compare images
    restart_on: tuple[str, ...] = ()  # depends_on entries with restart: true
    references: tuple[str, ...] = ()  # network_mode service:x, volumes_from x


@dataclass(frozen=True, slots=True)
class ObservedContainer:
    """A container found in the engine by its compose labels."""

    id: str
    name: str
    service: str
    number: int
    config_hash: str
    running: bool
    image_id: str | None = None
    oneoff: bool = False
    state: str = ""


@dataclass(frozen=True, slots=True)
class Step:
    """One planned action on one container (``container`` is None for CREATE)."""

    action: Action
    service: str
    number: int
    container: ObservedContainer | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``up`` does to each container, and the orphans it found."""
    steps: tuple[Step, ...]
    orphans: tuple[ObservedContainer, ...]

    def for_service(self, service: str) -> tuple[Step, ...]:
        """Steps for one service, in execution order (orphans are removed apart)."""
        return tuple(s for s in self.steps if s.service == service and s.reason != "orphan")

    def changes(self) -> tuple[Step, ...]:
        """Every step that is not a NOOP."""
        return tuple(s for s in self.steps if s.action is not Action.NOOP)


def plan_convergence(desired: Iterable[DesiredService], observed: Iterable[ObservedContainer], *,
                     recreate: RecreatePolicy = RecreatePolicy.DIVERGED,
                     remove_orphans: bool = False, known: Iterable[str] = ()) -> Plan:
    """Return the actions that turn ``observed`` into ``desired`` (pure; no engine calls).

    ``known`` are services of the compose file that are not desired this time (not targeted,
    or under a profile not enabled): their containers are left alone, not orphans — docker
    compose counts disabled services as known too (docker/compose#8432). A one-off (``run``)
    container that has exited is an orphan too, like docker compose counts it."""
    wanted = {d.name: d for d in desired}
    left_alone = set(known)
    by_service: dict[str, list[ObservedContainer]] = {}
    orphans: list[ObservedContainer] = []
    for c in observed:
        if c.oneoff:
            if c.state in ("exited", "dead"):
                orphans.append(c)
            continue
        if c.service in wanted:
            by_service.setdefault(c.service, []).append(c)
        elif c.service not in left_alone:
            orphans.append(c)
    steps: dict[str, list[Step]] = {
        name: _plan_service(d, by_service.get(name, []), recreate) for name, d in wanted.items()
    }
    if recreate is not RecreatePolicy.NEVER:
        _cascade(wanted, steps)
    flat = [s for name in wanted for s in steps[name]]
    if remove_orphans:
        flat += [Step(Action.REMOVE, c.service, c.number, c, "orphan") for c in orphans]
    return Plan(tuple(flat), tuple(sorted(orphans, key=lambda c: (c.service, c.number))))


def _plan_service(d: DesiredService, containers: list[ObservedContainer],
                  recreate: RecreatePolicy) -> list[Step]:
    # obsolete first, then highest number first: those are removed when scaling down
    ordered = sorted(containers, key=lambda c: (not _diverged(d, c), -c.number))
    surplus = max(0, len(ordered) - d.scale)
    steps = [Step(Action.REMOVE, d.name, c.number, c, "scale down") for c in ordered[:surplus]]
    kept = sorted(ordered[surplus:], key=lambda c: c.number)
    for c in kept:
        steps.append(_plan_container(d, c, recreate))
    used = {c.number for c in kept}
    next_number = max((c.number for c in containers), default=0) + 1
    for _ in range(d.scale - len(kept)):
        while next_number in used:
            next_number += 1
        steps.append(Step(Action.CREATE, d.name, next_number, None, "missing"))
        used.add(next_number)
    return steps


def _plan_container(d: DesiredService, c: ObservedContainer, recreate: RecreatePolicy) -> Step:
    if recreate is RecreatePolicy.FORCE:
        return Step(Action.RECREATE, d.name, c.number, c, "forced")
    if recreate is RecreatePolicy.DIVERGED and _diverged(d, c):
        why = "config changed" if c.config_hash != d.config_hash else "image changed"
        return Step(Action.RECREATE, d.name, c.number, c, why)
    if not c.running:
        return Step(Action.START, d.name, c.number, c, "not running")
    return Step(Action.NOOP, d.name, c.number, c, "up to date")


def _diverged(d: DesiredService, c: ObservedContainer) -> bool:
    if c.config_hash != d.config_hash:
        return True
    return d.image_id is not None and c.image_id is not None and c.image_id != d.image_id


def _cascade(wanted: Mapping[str, DesiredService], steps: dict[str, list[Step]]) -> None:
    """Propagate recreation along references (recreate) and restart: true (restart)."""
    changed = True
    while changed:
        changed = False
        recreated = {n for n, ss in steps.items()
                     if any(s.action in (Action.RECREATE, Action.CREATE) for s in ss)}
        for name, d in wanted.items():
            for dep in d.references:
                if dep in recreated and _upgrade(steps, name, Action.RECREATE, f"{dep} recreated"):
                    changed = True
            for dep in d.restart_on:
                if dep in recreated and _upgrade(steps, name, Action.RESTART, f"{dep} recreated"):
                    changed = True


def _upgrade(steps: dict[str, list[Step]], name: str, action: Action, reason: str) -> bool:
    """Turn NOOP/START steps of ``name`` into ``action``; return True if anything changed."""
    done = False
    new: list[Step] = []
    for s in steps[name]:
        if s.action in (Action.NOOP, Action.START) and s.container is not None:
            if action is Action.RESTART and not s.container.running:
                new.append(s)  # a stopped container is simply started
                continue
            s = Step(action, s.service, s.number, s.container, reason)
            done = True
        new.append(s)
    steps[name] = new
    return done
