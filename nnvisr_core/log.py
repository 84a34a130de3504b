"""Log levels shared with FFmpeg (libavutil/log.h), so messages land in av_log."""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Callable

ERROR = 16
WARNING = 24
INFO = 32
VERBOSE = 40
DEBUG = 48

LogFunction = Callable[[int, str], None]


def silent(level: int, message: str) -> None:
    """A log function for callers outside FFmpeg that want no output."""


class WarningRouter:
    """Python warnings (numpy's RuntimeWarnings, libraries' DeprecationWarnings) go to the log function of
    the instance that is running, at WARNING level, once per message, instead of to stderr, where they
    would bypass FFmpeg's log level (-v quiet)."""

    def __init__(self) -> None:
        self.current: LogFunction = silent
        self.seen: set[str] = set()

    def install(self) -> None:
        warnings.showwarning = self.show

    def show(self, message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        text = f"{category.__name__}: {message} ({pathlib.Path(filename).name}:{lineno})"
        if text not in self.seen:
            self.seen.add(text)
            self.current(WARNING, text)


warning_router = WarningRouter()
