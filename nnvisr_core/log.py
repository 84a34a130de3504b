"""Log levels shared with FFmpeg (libavutil/log.h), so messages land in av_log."""

from __future__ import annotations

from collections.abc import Callable

ERROR = 16
WARNING = 24
INFO = 32
VERBOSE = 40
DEBUG = 48

LogFunction = Callable[[int, str], None]


def silent(level: int, message: str) -> None:
    """A log function for callers outside FFmpeg that want no output."""
