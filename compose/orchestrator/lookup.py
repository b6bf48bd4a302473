"""Finding a project's containers by their labels, and reading their output.

Shared by the CLI commands and the in-process API (:mod:`compose.api`).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from compose.errors import ComposeError
from compose.orchestrator import labels as L

if TYPE_CHECKING:
    from compose.orchestrator.backend import Backend, ContainerRef

log = logging.getLogger(__name__)


def containers_of(be: Backend, name: str, services: Iterable[str] = (), *, all: bool = True,
                  oneoff: bool = False) -> list[ContainerRef]:
    """The project's containers (of ``services`` when given), sorted service/number."""
    wanted = set(services)
    found = []
    for c in be.list_containers(name, all=all):
        if wanted and c.labels.get(L.SERVICE) not in wanted:
            continue
        if not oneoff and c.labels.get(L.ONEOFF) == "True":
            continue
        found.append(c)
    return sorted(found, key=lambda c: (c.labels.get(L.SERVICE, ""), number(c)))


def number(c: ContainerRef) -> int:
    """The container's replica number (0 when the label is missing or bad)."""
    try:
        return int(c.labels.get(L.NUMBER, "0"))
    except ValueError:
        return 0


def pick_container(be: Backend, name: str, service: str, index: int | None) -> ContainerRef:
    """A running container of the service, like docker compose picks one: replica ``index``
    when given (one-off ``run`` containers are no replica), else the lowest-numbered
    replica, else a running one-off container."""
    found = containers_of(be, name, [service], all=False, oneoff=index is None)
    if index is not None:
        found = [c for c in found if number(c) == index]
    if not found:
        suffix = f" container #{index}" if index is not None else ""
        raise ComposeError(f'service "{service}" is not running{suffix}')
    return sorted(found, key=lambda c: (c.labels.get(L.ONEOFF) == "True", number(c)))[0]


def merged_logs(be: Backend, cs: list[ContainerRef], *, since: str | None,
                tail: int | None) -> list[tuple[str, ContainerRef, str, str]]:
    """Every line of every container as (time, container, text, stream), merged in time
    order (RFC 3339 sorts as text)."""
    from engine.errors import LogsNotSupported

    out: list[tuple[str, ContainerRef, str, str]] = []
    for c in cs:
        try:
            lines = list(be.logs(c.id, follow=False, since=since, tail=tail))
        except LogsNotSupported as exc:  # logging.driver none: docker compose warns, goes on
            log.warning("Can't retrieve logs for \"%s\": Error response from daemon: %s", c.name,
                        exc.message)
            continue
        out.extend((ln.time, c, ln.text, ln.stream) for ln in lines)
    out.sort(key=lambda t: t[0])
    return out
