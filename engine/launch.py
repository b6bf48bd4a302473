"""``python -m engine.launch MODULE ARG...``: run ``MODULE`` as ``python -m MODULE ARG...``
would, with the dataclass method cache (:mod:`engine.dataclass_cache`) installed first.

A helper daemon started as a fresh interpreter (the project supervisor, the DNS daemon: a
command that runs in-process, with no warm engine to fork them) defines dozens of frozen
dataclasses while it imports; compiling their methods again costs each one 20-40 ms of CPU
on the cold path of ``up``. Its command line still names the module (``ps``, and whoever
looks for the daemon by its command line, see it).
"""
from __future__ import annotations

import runpy
import sys

from engine import dataclass_cache


def main() -> None:
    dataclass_cache.install()
    del sys.argv[0]  # ``-m MODULE``'s view: argv[0] becomes the module's path (alter_sys)
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
