"""Network namespaces: create one bound to a file, run code inside one, remove it (ctypes).

Python 3.11 has no os.setns/os.unshare. Namespace switches happen in a short-lived helper thread:
``unshare``/``setns`` with CLONE_NEWNET only change the calling thread, so the caller's thread
stays in the host namespace. Sockets (netlink, DNS) created in that thread stay bound to the
namespace they were created in and can be used from any thread afterwards.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from engine.networks.model import NetworkError

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
MS_BIND = 0x1000
MNT_DETACH = 0x2

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str, obj: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise NetworkError(f"{os.strerror(err)} (errno {err})", step=what, obj=obj)


def _setns(fd: int, obj: str) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET), "setns", obj)


def run_in_netns(path: str | os.PathLike[str], fn: Callable[[], T]) -> T:
    """Run ``fn`` in a helper thread that has joined the network namespace at ``path``."""
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return _in_thread(lambda: _join_and_call(target, str(path), fn))
    finally:
        os.close(target)


def _join_and_call(fd: int, obj: str, fn: Callable[[], T]) -> T:
    _setns(fd, obj)
    return fn()


def _in_thread(fn: Callable[[], T]) -> T:
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # handed to the caller's thread
            error.append(exc)

    thread = threading.Thread(target=body, name="netns-helper", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def create_netns(path: Path, setup: Callable[[], None] | None = None) -> None:
    """Create a new network namespace and bind-mount it on ``path`` (an empty file is made).

    ``setup`` runs inside the new namespace (e.g. to bring ``lo`` up) before returning.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(exist_ok=True)

    def body() -> None:
        _check(_libc.unshare(CLONE_NEWNET), "unshare netns", str(path))
        source = f"/proc/self/task/{threading.get_native_id()}/ns/net".encode()
        _check(_libc.mount(source, str(path).encode(), None, MS_BIND, None),
               "bind-mount netns", str(path))
        if setup is not None:
            setup()

    _in_thread(body)


def is_netns_mount(path: Path) -> bool:
    """Is ``path`` a bind-mounted network namespace (rather than a plain file)?"""
    try:
        return os.stat(path).st_dev != os.stat(path.parent).st_dev or _nsfs(path)
    except FileNotFoundError:
        return False


def _nsfs(path: Path) -> bool:
    # nsfs files report the magic NSFS_MAGIC through statfs; the inode trick above is enough
    # in practice, but fall back to /proc/self/mountinfo for a same-device corner case.
    text = Path("/proc/self/mountinfo").read_text()
    return any(line.split()[4] == str(path) for line in text.splitlines())


SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def set_lo_up() -> None:
    """Bring ``lo`` up in the calling thread's namespace (one ioctl: much cheaper than a
    netlink session for a new namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(sock, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | IFF_UP))


def remove_netns(path: Path) -> None:
    """Unmount the namespace bind mount at ``path`` (if mounted) and delete the file."""
    if is_netns_mount(path):
        ret = _libc.umount2(str(path).encode(), MNT_DETACH)
        if ret != 0 and ctypes.get_errno() not in (22,):  # EINVAL: not mounted
            _check(ret, "unmount netns", str(path))
    try:
        path.unlink()
    except FileNotFoundError:
        pass
