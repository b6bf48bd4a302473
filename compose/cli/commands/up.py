"""``pycompose up``: create and start the project; foreground mode streams logs until the
containers exit or Ctrl-C (graceful stop; a second Ctrl-C kills)."""
from __future__ import annotations

import datetime as dt
import queue
import signal
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Annotated, Any

import typer

from compose.cli import terminal
from compose.cli.commands._orch import (
    LogPrinter,
    Progress,
    backend,
    containers_of,
    follow_logs,
    log_prefix,
    number,
    parse_time,
)
from compose.cli.options import apply_pull_flag, env_flag, rejected
from compose.errors import ComposeError
from compose.orchestrator import labels as L

if TYPE_CHECKING:  # the orchestrator is imported when the command runs, not for `--help`
    from compose.orchestrator import client
    from compose.orchestrator.backend import Backend, ContainerRef
    from compose.orchestrator.executor import ServiceRun
    from compose.orchestrator.up import UpResult


def register(app: typer.Typer) -> None:
    """Add the ``up`` command to ``app``."""
    app.command("up", help="Create and start containers.")(up_command)


def _parse_scale(values: list[str] | None) -> dict[str, int]:
    out = {}
    for v in values or ():
        svc, _, n = v.partition("=")
        if not n.isdigit():
            raise typer.BadParameter(f"expected SERVICE=NUM, got {v!r}", param_hint="--scale")
        out[svc] = int(n)
    return out


def up_command(
    ctx: typer.Context,
    services: Annotated[list[str] | None, typer.Argument(metavar="SERVICE...")] = None,
    detach: Annotated[bool, typer.Option("-d", "--detach", help="Run in the background.")
                      ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for services to be running|"
                                       "healthy. Implies detached mode.")] = False,
    wait_timeout: Annotated[float | None, typer.Option("--wait-timeout", metavar="SECONDS",
                                                       help="Maximum wait duration.")] = None,
    abort_on_exit: Annotated[bool, typer.Option("--abort-on-container-exit",
                                                help="Stop all if any container stops.")
                             ] = False,
    abort_on_failure: Annotated[bool, typer.Option("--abort-on-container-failure",
                                                   help="Stop all if any container fails.")
                                ] = False,
    exit_code_from: Annotated[str | None, typer.Option("--exit-code-from", metavar="SERVICE",
                                                       help="Return this service's exit code."
                                                       )] = None,
    scale: Annotated[list[str] | None, typer.Option("--scale", metavar="SERVICE=NUM")] = None,
    build: Annotated[bool, typer.Option("--build", help="Build images first.")] = False,
    no_build: Annotated[bool, typer.Option("--no-build", help="Don't build images.")] = False,
    pull: Annotated[str, typer.Option("--pull", metavar="POLICY",
                                      help="Pull image before running: always, missing, "
                                      "never, build; overrides every service's pull_policy "
                                      "(default: policy, each service's own).")] = "policy",
    quiet_pull: Annotated[bool, typer.Option("--quiet-pull", help="Pull without printing "
                                             "progress information.")] = False,
    quiet_build: Annotated[bool, typer.Option("--quiet-build", help="Suppress the build "
                                              "output.")] = False,
    force_recreate: Annotated[bool, typer.Option("--force-recreate")] = False,
    no_recreate: Annotated[bool, typer.Option("--no-recreate")] = False,
    renew_anon_volumes: Annotated[bool, typer.Option(
        "-V", "--renew-anon-volumes", help="Recreate anonymous volumes instead of retrieving "
        "data from the previous containers.")] = False,
    no_deps: Annotated[bool, typer.Option("--no-deps", help="Don't start linked services.")
                       ] = False,
    no_start: Annotated[bool, typer.Option("--no-start", help="Only create.")] = False,
    timeout: Annotated[float | None, typer.Option("-t", "--timeout", metavar="SECONDS")
                       ] = None,
    attach: Annotated[list[str] | None, typer.Option("--attach", metavar="SERVICE")] = None,
    no_attach: Annotated[list[str] | None, typer.Option("--no-attach", metavar="SERVICE")
                         ] = None,
    timestamps: Annotated[bool, typer.Option("--timestamps", help="Show timestamps.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color")] = False,
    no_log_prefix: Annotated[bool, typer.Option("--no-log-prefix")] = False,
    remove_orphans: Annotated[bool, typer.Option("--remove-orphans")] = False,
    timings: Annotated[bool, typer.Option("--timings", help="Report per-service timings and "
                                          "the critical path.")] = False,
    attach_dependencies: Annotated[bool, typer.Option("--attach-dependencies",
                                                      help="Show the logs of the dependencies "
                                                      "of the named services too.")] = False,
    watch: Annotated[bool, typer.Option("-w", "--watch", help="Watch the source code and "
                                        "rebuild/refresh containers when files change "
                                        "(develop.watch).")] = False,
    menu: Annotated[bool, rejected("--menu", reason="pycompose has no interactive navigation "
                                   "menu (--menu=false is accepted)")] = False,
    always_recreate_deps: Annotated[bool, rejected("--always-recreate-deps",
                                                   reason="dependencies are recreated only "
                                                   "when their configuration diverged")
                                    ] = False,
    yes: Annotated[bool, typer.Option("-y", "--yes", help="Assume yes: recreate volumes "
                                      "whose definition changed (their data is lost).")
                   ] = False,
) -> int:
    """Converge the project and start it; stream logs unless detached."""
    from compose.orchestrator.convergence import RecreatePolicy
    from compose.orchestrator.up import Up, UpOptions

    if force_recreate and no_recreate:
        raise ComposeError("--force-recreate and --no-recreate are incompatible")
    if exit_code_from:
        abort_on_exit = True
    if detach and (abort_on_exit or abort_on_failure):
        raise ComposeError("--abort-on-container-exit and -d cannot be combined")
    if watch and detach:
        raise ComposeError("--watch and -d cannot be combined (watch runs in the foreground)")
    targets = tuple(services or ())
    project = apply_pull_flag(ctx.obj.load_project(services=targets), pull)
    if exit_code_from and exit_code_from not in project.services:
        raise ComposeError(f"no such service: {exit_code_from}")
    recreate = (RecreatePolicy.FORCE if force_recreate else RecreatePolicy.NEVER if no_recreate
                else RecreatePolicy.DIVERGED)
    # like docker compose: COMPOSE_* settings also come from the .env file
    remove_orphans = remove_orphans or env_flag(project.environment, "COMPOSE_REMOVE_ORPHANS")
    ignore_orphans = env_flag(project.environment, "COMPOSE_IGNORE_ORPHANS")
    if ignore_orphans and remove_orphans:
        raise ComposeError("cannot combine COMPOSE_IGNORE_ORPHANS and --remove-orphans")
    opts = UpOptions(services=targets, no_deps=no_deps, build=build, no_build=no_build,
                     recreate=recreate, no_start=no_start,
                     remove_orphans=remove_orphans, ignore_orphans=ignore_orphans,
                     recreate_volumes=yes,
                     scale=_parse_scale(scale), timeout=timeout, wait_timeout=wait_timeout,
                     wait=wait,
                     renew_anon_volumes=renew_anon_volumes, parallel=ctx.obj.parallel)
    be = backend()
    progress = Progress(ctx.obj.progress)
    began = time.time()
    result = Up(project, be, opts, quiet_steps(progress, pull=quiet_pull,
                                                build=quiet_build)).run()
    if timings:
        _print_timings(result)
    failures = result.failures()
    for f in failures:
        terminal.error(f)
    if failures:
        return 1
    if detach or wait or no_start:
        return 0
    watcher = None
    if watch:
        from compose.cli.commands.watch import start_watch

        watcher = start_watch(project, be, progress, targets)
    # `attach: false` in the file keeps a service's logs out of the foreground, like compose;
    # with named services only theirs are followed unless --attach-dependencies
    default = [s for s in result.containers if project.services[s].raw.get("attach") is not False
               and (not targets or attach_dependencies or s in targets)]
    attached = [s for s in (attach or default) if s not in (no_attach or ())]
    cs = [c for c in containers_of(be, project.name, attached)]
    try:
        if cs:  # docker compose announces the containers it follows, on stdout
            terminal.line("Attaching to " + ", ".join(log_prefix(c) for c in sorted(
                cs, key=lambda c: c.name)))
        return _foreground(ctx, be, project.name, cs, timeout, abort_on_exit, abort_on_failure,
                           exit_code_from, LogPrinter(cs, colour=terminal.use_colour() and
                                                      not no_color, timestamps=timestamps,
                                                      prefix=not no_log_prefix), progress,
                           began, targets or tuple(project.services))
    except KeyboardInterrupt:  # before the foreground loop took over Ctrl-C: stop all the same
        terminal.line(_STOPPING)
        _stop_all(be, project.name, timeout, progress, targets or project.services)
        return 130
    finally:
        if watcher is not None:
            watcher.stop()


def quiet_steps(progress: Progress, *, pull: bool, build: bool) -> Callable[[str, str], None]:
    """``progress`` without the image pull (--quiet-pull) or build (--quiet-build) lines."""
    hidden = ({"Pulling", "Pulled"} if pull else set()) | ({"Building", "Built"} if build
                                                           else set())
    if not hidden:
        return progress

    def report(obj: str, status: str) -> None:
        if not (obj.startswith("Image ") and status in hidden):
            progress(obj, status)

    return report


def _print_timings(result: UpResult) -> None:
    """Per service: image ready, created, started, healthy (ms since up began), critical path."""
    from compose.orchestrator.executor import critical_path

    t0 = result.t0

    def ms(t: float | None) -> str:
        return "-" if t is None else f"{(t - t0) * 1000:.0f}"

    rows = []
    for name, run in result.runs.items():
        gap = "-"
        gate = result.runs.get(run.gated_by or "")
        held = gate_time(run, gate)
        if held is not None and run.launched_at is not None:
            gap = f"{(run.launched_at - held) * 1000:.1f}"
        rows.append([name, ms(result.image_ready.get(name)), ms(result.created.get(name)),
                     ms(run.started_at), ms(run.healthy_at), ms(run.exited_at),
                     run.gated_by or "-", gap])
    terminal.write(terminal.table(("SERVICE", "IMAGE_READY_MS", "CREATED_MS", "STARTED_MS",
                                   "HEALTHY_MS", "EXITED_MS", "GATED_BY", "GATE_GAP_MS"),
                                  rows))
    terminal.line("critical path: " + " -> ".join(critical_path(result.runs)))


def gate_time(run: ServiceRun, gate: ServiceRun | None) -> float | None:
    """When the condition on the gating dependency held: its healthy / exit / start time
    (as the supervisor saw it), so GATE_GAP_MS spans event delivery + scheduling."""
    if gate is None:
        return None
    for moment in (gate.exited_at, gate.healthy_at, gate.started_at):
        if moment is not None and run.launched_at is not None and moment <= run.launched_at:
            return moment
    return None


def _foreground(ctx: typer.Context, be: Backend, name: str, cs: list[ContainerRef],
                timeout: float | None, abort_on_exit: bool, abort_on_failure: bool,
                exit_code_from: str | None, printer: LogPrinter, progress: Progress,
                since: float, services: Collection[str]) -> int:
    """Follow ``cs``'s output from ``since`` (when this up began) until they exit, the
    stack aborts or Ctrl-C; then stop the project (docker compose's attached up)."""
    from compose.orchestrator import client

    q: queue.Queue[Any] = queue.Queue()
    running = {c.id: c for c in cs}
    codes: dict[str, int] = {}
    exited_at: dict[str, float] = {}
    down: set[str] = set()  # exited and not started again since
    interrupted = False
    aborted_with: int | None = None  # exit code of the container that stopped the stack
    open_by = {c.id: 1 for c in cs}  # each container's open log followers (drained first)
    deferred: dict[str, Any] = {}  # exits waiting for the last lines of their run
    released: set[str] = set()  # (exits put back once their lines are in)
    sub: client.Subscription | None = None
    try:  # (a Ctrl-C while subscribing and following stops the stack too)
        sub = client.Subscription(name)
        threading.Thread(target=_pump_exits, args=(sub, q), daemon=True, name="exits").start()
        # docker attaches to this up's output only: earlier runs' lines are not replayed
        follow_logs(be, cs, q, since=dt.datetime.fromtimestamp(since, dt.UTC).isoformat())
        for c in be.list_containers(name):  # exited before we subscribed
            if c.id in running and not c.running:
                q.put(("exit", c.id, c.exit_code or 0, _will_restart(c), _finished(c)))
        # docker follows the up's own services to their end (--attach-dependencies shows
        # the dependencies' output, but their running on does not keep the up attached)
        watched = {c.id for c in cs if c.labels.get(L.SERVICE) in services} or set(running)
        while (any(cid in running for cid in watched)
               or any(open_by.get(cid, 0) > 0 for cid in watched)):
            item = q.get()
            if item[0] == "log":
                printer.print(item[1], item[2], item[3], item[4])
            elif item[0] == "eof":
                open_by[item[1].id] -= 1
                if open_by[item[1].id] <= 0 and item[1].id in deferred:
                    released.add(item[1].id)
                    q.put(deferred.pop(item[1].id))
            elif (item[0] == "exit" and open_by.get(item[1], 0) > 0
                  and item[1] not in released and not (abort_on_exit or abort_on_failure)):
                deferred[item[1]] = item  # "exited with code" after the run's last line
            elif item[0] == "started" and item[1] in deferred:  # its exit first, then this
                released.add(item[1])
                q.put(deferred.pop(item[1]))
                q.put(item)
            elif item[0] == "exit" and item[1] in running and item[1] not in down:
                released.discard(item[1])
                down.add(item[1])  # the same exit may be seen in the listing and as an event
                c = running[item[1]]
                codes[c.labels.get(L.SERVICE, "")] = item[2]
                terminal.line(f"{log_prefix(c)} exited with code {item[2]}")
                if abort_on_exit or (abort_on_failure and item[2] != 0):
                    aborted_with = _settle_abort(q, running, down, codes, c, item[2],
                                                 abort_on_failure, item[4])
                    terminal.line("Aborting on container exit...")
                    break
                if not item[3]:  # a restart policy brings it back: stay attached
                    del running[item[1]]
                exited_at[item[1]] = item[4]
            elif item[0] == "started" and item[1] in running:
                down.discard(item[1])
                # the new run's lines are those after the previous exit (the container may
                # print before the "started" event is even published)
                when = exited_at.get(item[1]) or item[2]
                after = dt.datetime.fromtimestamp(when, dt.UTC).isoformat()
                follow_logs(be, [running[item[1]]], q, since=after)
                open_by[item[1]] += 1
    except KeyboardInterrupt:
        interrupted = True
        terminal.line(_STOPPING)
    finally:
        if sub is not None:
            sub.close()
    _stop_all(be, name, timeout, progress, services)
    if exit_code_from:
        return codes.get(exit_code_from, _exit_code(be, name, exit_code_from))
    if aborted_with is not None:  # docker compose: the code of the container that aborted
        return aborted_with
    return 130 if interrupted else 0


ABORT_SETTLE = 0.2  # seconds: exits this close to the first one count as simultaneous


def _settle_abort(q: queue.Queue[Any], running: dict[str, ContainerRef], down: set[str],
                  codes: dict[str, int], first: ContainerRef, code: int,
                  failures_only: bool, finished: float) -> int:
    """The exit code ``up --abort-on-container-exit`` returns. docker returns the code of the
    first exit it observes, which for containers exiting together depends on scheduling; here
    exits seen within ``ABORT_SETTLE`` of the first are simultaneous and the rule is
    deterministic: a failure (non-zero code) wins over success, then the first by service
    name and replica number."""
    exits = [(first, code, finished)]
    deadline = time.monotonic() + ABORT_SETTLE
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = q.get(timeout=left)
        except queue.Empty:
            break
        if item[0] == "exit" and item[1] in running and item[1] not in down:
            down.add(item[1])
            c = running[item[1]]
            codes[c.labels.get(L.SERVICE, "")] = item[2]
            terminal.line(f"{log_prefix(c)} exited with code {item[2]}")
            if not failures_only or item[2] != 0:
                exits.append((c, item[2], item[4]))
    # (a container that waited for the earliest exit to complete started after it: it did
    # not exit together with it, and docker's first exit is the earliest)
    earliest = min(exits, key=lambda e: e[2] or float("inf"))
    service = earliest[0].labels.get(L.SERVICE, "")
    together = [e for e in exits if e is earliest or not _waited_for(e[0], service)]
    together.sort(key=lambda e: (e[1] == 0, e[0].labels.get(L.SERVICE, ""), number(e[0])))
    return together[0][1]


def _waited_for(c: ContainerRef, service: str) -> bool:
    """Whether ``c``'s service starts only once ``service`` completed successfully."""
    return any(d.split(":")[:2] == [service, "service_completed_successfully"]
               for d in c.labels.get(L.DEPENDS_ON, "").split(","))


def _will_restart(c: ContainerRef) -> bool:
    """For a container found exited: will its restart policy start it again?"""
    from compose.orchestrator import state
    from compose.orchestrator.restart import RestartState, decide_restart

    row = state.get(c.id)
    if row is None:
        return False
    return decide_restart(row.restart, RestartState(count=row.restart_count),
                          c.exit_code or 0, 0.0, row.stopped_by_user).restart


def _finished(c: ContainerRef) -> float:
    finished = str(c.extra.get("finished_at") or "")
    return parse_time(finished).timestamp() if finished else 0.0


def _exit_code(be: Backend, name: str, service: str) -> int:
    for c in be.list_containers(name):
        if c.labels.get(L.SERVICE) == service and c.exit_code is not None:
            return c.exit_code
    return 0


def _pump_exits(sub: client.Subscription, q: queue.Queue[Any]) -> None:
    for ev in sub:
        if ev.get("event") == "exited":
            q.put(("exit", ev["container"], int(ev.get("exit_code") or 0),
                   bool(ev.get("will_restart")), float(ev.get("time") or 0)))
        elif ev.get("event") == "started":
            q.put(("started", ev["container"], float(ev.get("time") or 0)))


_STOPPING = "Gracefully stopping... (press Ctrl+C again to force)"


def _stop_all(be: Backend, name: str, timeout: float | None, progress: Progress,
              services: Collection[str]) -> None:
    """Stop this up's services (those it was given, else the model's; not their
    dependencies, other files' services or one-offs: docker compose stops
    ``Create.Services``); a second Ctrl-C while stopping kills them."""
    from compose.orchestrator.down import stop_containers

    def ours() -> list[ContainerRef]:
        return [c for c in be.list_containers(name) if c.running
                and c.labels.get(L.SERVICE) in services and c.labels.get(L.ONEOFF) != "True"]

    # Stopping runs on a thread: the executor's pool waits for its stop actions before an
    # interrupt of this thread could surface, so a second ^C would wait out the grace period.
    running = ours()
    stopper = threading.Thread(target=stop_containers, args=(be, running, timeout, progress),
                               name="stop", daemon=True)
    stopper.start()
    try:
        stopper.join()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for c in ours():
            try:
                be.kill_container(c.id, "SIGKILL")
            except Exception as exc:
                terminal.error(f"{c.name}: {exc}")
        stopper.join(30)  # the stops end as their containers die
