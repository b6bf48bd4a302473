"""Logging is set up by the CLI (compose.cli.terminal.setup_logging) without being loaded:
a command that logs nothing never imports it; the first import of it, from anywhere, ends
configured as asked, with traceback loaded only when an exception is formatted."""
from __future__ import annotations

from tests.support import fresh

PROBE = """
import sys
from compose.cli import terminal
terminal.setup_logging(sys.argv[1] == "-v")
print("logging" in sys.modules)
import logging
root = logging.getLogger()
print(type(sys.modules["traceback"]).__name__ if "traceback" in sys.modules else "absent",
      logging.getLevelName(root.level), [h.get_name() for h in root.handlers])
logging.getLogger("compose.x").warning("not set: %s", "TAG")
logging.getLogger("engine.y").debug("created %s", "net")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("engine.y").exception("failed")
print("traceback" in sys.modules and type(sys.modules["traceback"]).__name__)
"""


def _probe(flag: str) -> tuple[list[str], str]:
    out = fresh.run(PROBE, flag)
    return out.stdout.splitlines(), out.stderr


def test_the_first_import_of_logging_ends_configured() -> None:
    stdout, stderr = _probe("")
    assert stdout[0] == "False"  # set up, not loaded
    assert stdout[1] == "absent WARNING ['pycompose']"
    assert stdout[2] == "module"  # the real traceback, once an exception was formatted
    lines = stderr.splitlines()
    assert lines[0] == "WARN not set: TAG"
    assert lines[1] == "ERROR failed"
    assert "ZeroDivisionError: division by zero" in stderr
    assert "created net" not in stderr


def test_verbose_logs_debug_lines_too() -> None:
    stdout, stderr = _probe("-v")
    assert stdout[1] == "absent DEBUG ['pycompose']"
    assert "DEBUG created net" in stderr.splitlines()


def test_a_logger_of_the_config_loader_is_a_lazy_stand_in() -> None:
    code = ("import sys\nimport compose.config.interpolation as m\n"
            "print('logging' in sys.modules, m.log.name)\n"
            "m.log.warning('x')\nprint('logging' in sys.modules)\n")
    out = fresh.run(code)
    assert out.stdout.splitlines() == ["False compose.config.interpolation", "True"]
    assert out.stderr.strip() == "x"  # (no handler of ours here: logging's last resort)


def test_a_look_up_of_logging_that_does_not_import_it_leaves_the_set_up_pending() -> None:
    code = ("import importlib.util, sys\nfrom compose.cli import terminal\n"
            "terminal.setup_logging(False)\n"
            "assert importlib.util.find_spec('logging') is not None\n"
            "print('logging' in sys.modules)\n"
            "import logging\n"
            "print([h.get_name() for h in logging.getLogger().handlers])\n")
    out = fresh.run(code)
    assert out.stdout.splitlines() == ["False", "['pycompose']"]
