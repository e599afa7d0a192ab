"""One exception type for every user-facing error, so the CLI can print one line and exit 2."""

from __future__ import annotations


class KpstanceError(Exception):
    """A problem with the user's input or set-up, reported as one line without a traceback."""

    def __init__(self, message: str, path: object | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class MissingExtra(KpstanceError):
    """An optional package is not installed: the run is skipped, which is not an error."""
