"""Rootless mode: the engine run by an ordinary user, no sudo.

Root or not is detected (:mod:`engine.rootless.detect`), not configured. A non-root CLI joins a
per-state-root set of namespaces early (:func:`engine.rootless.join.enter`), while still
single-threaded, and from then on runs the same code path as root: a user namespace mapping the
user to root and the user's subordinate ids (``/etc/subuid``, ``/etc/subgid``) above it, a mount
namespace, and a network namespace holding the project's bridges, veths, NAT and DNS.

Processes (one set per state root)::

    rootless daemon    host namespaces; started detached by the first CLI that needs it.
      │                maps ids (newuidmap/newgidmap), starts pasta, binds published ports on
      │                the host and hands the listening sockets to the pause process
      ├─ pause         user + mount + network namespace owner; forwards published ports
      └─ pasta         outbound connectivity of that network namespace

Files live under the runtime directory (:func:`engine.rootless.detect.runtime_dir`).
``release()`` stops the set once no container of the state root is left.
"""
from __future__ import annotations
