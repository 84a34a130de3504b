"""Running ffmpeg and ffprobe: one error line from what they print."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess

from ..errors import NnvisrError

# what must be equal in every segment for the concat demuxer to join them into one stream
FORMAT_FIELDS = ("codec_name", "pix_fmt", "width", "height", "color_range", "color_space")
CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")  # "[Parsed_nnvisr_0 @ 0x55...] "


def error_line(stderr: str) -> str:
    """The line of ffmpeg's stderr that says what went wrong: its first (the later ones say what it stopped)."""
    lines = [CONTEXT.sub("", line).strip() for line in stderr.splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def run(command: list[str], what: str, cwd: pathlib.Path | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise NnvisrError(f"{what}: {command[0]} not found (pass --ffmpeg / --ffprobe)") from None
    if done.returncode:
        raise NnvisrError(f"{what}: {error_line(done.stderr)}")
    return done.stdout


def probe_streams(ffprobe: str, path: pathlib.Path) -> list[dict]:
    out = run(
        [ffprobe, "-v", "error", "-show_entries", "stream=index,codec_type,time_base", "-of", "json", str(path)],
        f"reading {path}",
    )
    return json.loads(out).get("streams", [])


def video_summary(ffprobe: str, path: pathlib.Path) -> tuple[int, dict] | None:
    """(frames, stream format) of a segment (one packet per frame), None when it does not read."""
    done = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
         f"stream=nb_read_packets,{','.join(FORMAT_FIELDS)}", "-of", "json", str(path)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        stream = json.loads(done.stdout)["streams"][0]
        return int(stream["nb_read_packets"]), {name: stream.get(name) for name in FORMAT_FIELDS}
    except (ValueError, KeyError, IndexError):
        return None
