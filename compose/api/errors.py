"""The API's exceptions: one hierarchy, rooted at :class:`PycomposeError`.

::

    PycomposeError                  anything the API raises on purpose
    ├── ComposeFileError            the compose file(s) could not be loaded (file, line, key)
    ├── UsageError                  a bad argument value (also a builtin ``ValueError``)
    ├── ServiceError                unknown service, service not running, port not published
    ├── StackError                  up/down/start/stop/restart did not complete (``failures``)
    │   └── WaitTimeout             a wait gave up (also a builtin ``TimeoutError``)
    └── EngineFailure               an engine operation failed (``step``, ``obj``)

``str(exc)`` is the very line the ``pycompose`` CLI prints for the same mistake, e.g.
``compose.yaml:4:5: services.web.ports[0]: ...``. The original exception is kept as
``exc.original`` (the chain is cut so a traceback ends at the API call, not deep inside).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class PycomposeError(Exception):
    """Root of every error the API raises on purpose. ``str()`` is a one-line message."""

    def __init__(self, message: str, *, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.original = original


class ComposeFileError(PycomposeError):
    """A compose file mistake: syntax, schema, interpolation, references, dependency cycle.
    ``file``, ``line``, ``column`` and ``key_path`` say where (each None when unknown)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None, key_path: str | None = None,
                 original: BaseException | None = None) -> None:
        super().__init__(message, original=original)
        self.file = file
        self.line = line
        self.column = column
        self.key_path = key_path


class UsageError(PycomposeError, ValueError):
    """An argument the API cannot use (e.g. an unknown pull policy)."""


class ServiceError(PycomposeError):
    """A request about a service that cannot be answered: no such service, not running, no
    such published port."""


class StackError(PycomposeError):
    """An operation on the stack did not complete; ``failures`` holds one reason per
    service or object that failed."""

    def __init__(self, message: str, failures: Sequence[str] = (), *,
                 original: BaseException | None = None) -> None:
        super().__init__(message, original=original)
        self.failures = tuple(failures)


class WaitTimeout(StackError, TimeoutError):
    """A wait (``up(wait=True, timeout=...)``, ``wait_healthy``) ran out of time."""


class EngineFailure(PycomposeError):
    """The embedded engine could not do something; ``step`` and ``obj`` name what and on
    which object (e.g. ``create network``, ``itest_default``)."""

    def __init__(self, message: str, *, step: str | None = None, obj: str | None = None,
                 original: BaseException | None = None) -> None:
        super().__init__(message, original=original)
        self.step = step
        self.obj = obj


def stack_failed(what: str, failures: Sequence[str]) -> StackError:
    """The error for an operation with per-service failure reasons (timeouts as
    :class:`WaitTimeout`)."""
    message = f"{what} failed: " + "; ".join(failures)
    if any("timed out" in f for f in failures):
        return WaitTimeout(message, failures)
    return StackError(message, failures)


@contextmanager
def translated() -> Iterator[None]:
    """Turn the compose and engine error roots into this hierarchy (same message)."""
    from compose.errors import ComposeError, ConfigError, GraphError

    try:
        yield
    except PycomposeError:
        raise
    except (ConfigError, GraphError) as exc:
        raise ComposeFileError(str(exc), file=exc.file, line=exc.line, column=exc.column,
                               key_path=exc.key_path, original=exc) from None
    except ComposeError as exc:
        raise StackError(str(exc), original=exc) from None
    except Exception as exc:
        from engine.errors import EngineError

        if isinstance(exc, EngineError):
            raise EngineFailure(str(exc), step=exc.step, obj=exc.obj, original=exc) from None
        raise
