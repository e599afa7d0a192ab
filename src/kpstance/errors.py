"""One exception type for every user-facing error, so the CLI can print one line and exit 2; and SIGTERM as an
exception, so that a stopped command or run cleans up as after Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class KpstanceError(Exception):
    """A problem with the user's input or set-up, reported as one line without a traceback."""

    def __init__(self, message: str, path: object | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class MissingExtra(KpstanceError):
    """An optional package is not installed: the run is skipped, which is not an error."""


class Terminated(BaseException):
    """SIGTERM (``kill``, ``timeout``, a job scheduler's stop), raised where the process is, so the same clean-up
    runs as for Ctrl-C: temporary files removed, a run folder marked ``failed.json``."""

    def __str__(self) -> str:
        return "terminated by SIGTERM"


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into ``Terminated`` while the block runs: in the main thread only, and only where nobody else
    (a job launcher such as submitit, which requeues on its own signals) has installed a handler."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def raise_terminated(signum: int, frame: Any) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
