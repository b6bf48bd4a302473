"""runc-compatible command line for the built-in runtime::

    python -m engine.runtime [--root DIR] create --bundle B [--pid-file P] [--console-socket S] ID
    python -m engine.runtime start|state|pause|resume ID
    python -m engine.runtime kill [--all] ID [SIGNAL]
    python -m engine.runtime delete [--force] ID
    python -m engine.runtime exec [--process FILE | ID ARGS...] [--tty] [--detach] ID
    python -m engine.runtime run --bundle B [--detach] ID     (create+start+wait+delete)
    python -m engine.runtime list

Errors print one line on stderr and exit 1 (exec failures exit 126/127 like docker).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.runtime.children import ExecFailed
from engine.runtime.runtime import BuiltinRuntime

PR_SET_CHILD_SUBREAPER = 36


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (global options accepted where runc accepts them)."""
    p = argparse.ArgumentParser(prog="python -m engine.runtime")
    p.add_argument("--root", type=Path)
    p.add_argument("--log")
    p.add_argument("--log-format", default="text")
    p.add_argument("--debug", action="store_true")
    p.add_argument("--systemd-cgroup", action="store_true", help="accepted and ignored")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("create", "run"):
        c = sub.add_parser(name)
        c.add_argument("--bundle", "-b", type=Path, default=Path("."))
        c.add_argument("--pid-file", type=Path)
        c.add_argument("--console-socket", type=Path)
        c.add_argument("--no-pivot", action="store_true", help="accepted and ignored")
        if name == "run":
            c.add_argument("--detach", "-d", action="store_true")
        c.add_argument("id")
    for name in ("start", "state", "pause", "resume"):
        sub.add_parser(name).add_argument("id")
    k = sub.add_parser("kill")
    k.add_argument("--all", "-a", action="store_true")
    k.add_argument("id")
    k.add_argument("signal", nargs="?", default="SIGTERM")
    d = sub.add_parser("delete")
    d.add_argument("--force", "-f", action="store_true")
    d.add_argument("id")
    e = sub.add_parser("exec")
    e.add_argument("--process", "-p", type=Path)
    e.add_argument("--tty", "-t", action="store_true")
    e.add_argument("--detach", "-d", action="store_true")
    e.add_argument("--pid-file", type=Path)
    e.add_argument("--cwd")
    e.add_argument("--env", "-e", action="append", default=[])
    e.add_argument("id")
    e.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser("list")
    return p


def parse_signal(text: str) -> int:
    """``9``, ``KILL`` or ``SIGKILL`` -> 9."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError as e:
        raise EngineError(f"unknown signal {text!r}", step="kill") from e


def wait_exit_code(pid: int) -> int:
    """Wait for ``pid`` (our child via the subreaper) and return a shell-style exit code."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) \
            else 128 + os.WTERMSIG(status)


def become_subreaper() -> None:
    """Orphaned container processes become our children, so we can wait for them."""
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def forward_signals(pid: int) -> None:
    """Pass SIGTERM/SIGINT/SIGHUP on to the container init (like ``runc run``)."""
    def handler(signum: int, _frame: Any) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)


def cmd_run(rt: BuiltinRuntime, a: argparse.Namespace) -> int:
    """create + start (+ wait + delete unless detached)."""
    become_subreaper()
    pid = rt.create(a.id, a.bundle, pid_file=a.pid_file, console_socket=a.console_socket)
    try:
        rt.start(a.id)
    except EngineError:
        rt.delete(a.id, force=True)  # never leave an init blocked before exec behind
        raise
    if a.detach:
        return 0
    forward_signals(pid)
    code = wait_exit_code(pid)
    rt.delete(a.id, force=True)
    return code


def cmd_exec(rt: BuiltinRuntime, a: argparse.Namespace) -> int:
    """exec a process given as a JSON file or as arguments."""
    if a.process:
        process: dict[str, Any] = json.loads(a.process.read_text())
    else:
        if not a.args:
            raise EngineError("exec needs --process or a command", step="exec", obj=a.id)
        process = {"args": a.args, "cwd": a.cwd or "/", "env": a.env or
                   ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    become_subreaper()
    pid = rt.exec(a.id, process, stdin=None, stdout=None, stderr=None, tty=a.tty)
    if a.pid_file:
        a.pid_file.write_text(str(pid))
    return 0 if a.detach else wait_exit_code(pid)


def dispatch(rt: BuiltinRuntime, a: argparse.Namespace) -> int:
    """Run one command; return the process exit code."""
    if a.command == "create":
        rt.create(a.id, a.bundle, pid_file=a.pid_file, console_socket=a.console_socket)
    elif a.command == "run":
        return cmd_run(rt, a)
    elif a.command == "start":
        rt.start(a.id)
    elif a.command == "state":
        print(json.dumps(rt.state(a.id), indent=2))
    elif a.command == "kill":
        rt.kill(a.id, parse_signal(a.signal), all=a.all)
    elif a.command == "delete":
        rt.delete(a.id, force=a.force)
    elif a.command == "pause":
        rt.pause(a.id)
    elif a.command == "resume":
        rt.resume(a.id)
    elif a.command == "exec":
        return cmd_exec(rt, a)
    elif a.command == "list":
        for cid in rt.list():
            print(cid)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse, run, map errors to one line and an exit code."""
    a = build_parser().parse_args(argv)
    if a.log:
        logging.basicConfig(filename=a.log, level=logging.DEBUG if a.debug else logging.INFO)
    else:
        logging.basicConfig(level=logging.DEBUG if a.debug else logging.WARNING)
    rt = BuiltinRuntime(root=a.root)
    try:
        return dispatch(rt, a)
    except ExecFailed as e:
        print(f"engine.runtime: {e}", file=sys.stderr)
        return e.exit_code
    except EngineError as e:
        print(f"engine.runtime: {e}", file=sys.stderr)
        return 1
