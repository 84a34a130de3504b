"""Running ffmpeg and ffprobe: one error line from what they print."""

from __future__ import annotations

import json
import pathlib
import re
import subprocess

from ..errors import NnvisrError

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


def count_video_packets(ffprobe: str, path: pathlib.Path) -> int | None:
    """Frames in a finished segment (one packet per frame), None when it does not read."""
    done = subprocess.run(
        [ffprobe, "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
         "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    text = done.stdout.strip().split(",")[0] if done.stdout.strip() else ""
    if done.returncode or not text.isdigit():
        return None
    return int(text)
