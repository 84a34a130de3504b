"""The scan pass: every frame's timestamp and the scene cuts nnvisr will see.

It runs the filters the user put in front of nnvisr (scene detection among them) over the whole video and reads
each frame's metadata, so the cuts are those of one `ffmpeg -vf ...,nnvisr=...` run, found by the same code.
"""

from __future__ import annotations

import dataclasses
import fractions
import pathlib
import re

from ..errors import NnvisrError
from . import tools
from .graph import FilterChain

SCAN_FILE = "scan-metadata.txt"
FRAME_LINE = re.compile(r"frame:(\d+)\s+pts:(-?\d+|NOPTS)\s")


@dataclasses.dataclass(frozen=True)
class Scan:
    pts: list[int]  # per source frame, in time_base units
    time_base: fractions.Fraction
    cuts: list[int]  # frames that start a scene (frame 0 included)


def video_time_base(ffprobe: str, source: pathlib.Path) -> fractions.Fraction:
    streams = tools.probe_streams(ffprobe, source)
    video = [s for s in streams if s.get("codec_type") == "video"]
    if not video:
        raise NnvisrError(f"{source}: no video stream")
    return fractions.Fraction(video[0]["time_base"])


def scan(ffmpeg: str, ffprobe: str, source: pathlib.Path, chain: FilterChain, options: dict[str, str],
         workdir: pathlib.Path) -> Scan:  # fmt: skip
    time_base = video_time_base(ffprobe, source)
    # every frame gets a tag, so that metadata=print prints every frame, cut or not
    filters = [*chain.before, "metadata=mode=add:key=nnvisr.scan:value=1", f"metadata=mode=print:file={SCAN_FILE}"]
    tools.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source.resolve()),
         "-map", "0:v:0", "-vf", ",".join(filters), "-f", "null", "-"],
        "scan pass", cwd=workdir,
    )  # fmt: skip
    key = options.get("scene_key", "lavfi.scd.time")
    threshold = float(options.get("scene_threshold", "0"))
    # scene=off (by name or by the filter's number for it): the filter sees no cut, so the video is one scene
    no_cuts = options.get("scene", "").strip() in ("off", "2")
    pts: list[int] = []
    cuts: list[int] = []
    tags: dict[str, str] = {}

    def close_frame() -> None:
        if not pts:
            return
        value = tags.get(key)
        if len(pts) == 1 or (not no_cuts and value is not None and (threshold <= 0 or float(value) >= threshold)):
            cuts.append(len(pts) - 1)

    for line in (workdir / SCAN_FILE).read_text().splitlines():
        match = FRAME_LINE.match(line)
        if match:
            close_frame()
            if match.group(2) == "NOPTS":
                raise NnvisrError(f"{source}: frame {len(pts)} has no timestamp")
            pts.append(int(match.group(2)))
            tags = {}
        else:
            name, _, value = line.partition("=")
            tags[name] = value
    close_frame()
    (workdir / SCAN_FILE).unlink()
    if not pts:
        raise NnvisrError(f"{source}: no video frames")
    return Scan(pts, time_base, cuts)
