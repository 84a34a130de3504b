"""The join: segments through ffmpeg's concat demuxer, other streams, chapters and metadata copied from the source.

Each segment starts at its first frame's time in one run; the concat demuxer places a file at the sum of the
`duration`s before it minus the file's own start, so durations equal to the distance between chunk starts give
every packet its time in one run.
"""

from __future__ import annotations

import fractions
import pathlib

from . import tools
from .plan import Chunk

LIST = "concat.txt"


def write_list(directory: pathlib.Path, segments: list[pathlib.Path], chunks: list[Chunk],
               time_base: fractions.Fraction) -> pathlib.Path:  # fmt: skip
    lines = ["ffconcat version 1.0"]
    for segment, chunk, following in zip(segments, chunks, [*chunks[1:], None]):
        lines.append(f"file '{segment.relative_to(directory)}'")
        if following is not None:
            seconds = (following.start_pts - chunk.start_pts) * time_base
            lines.append(f"duration {round(seconds * 1_000_000)}us")
    path = directory / LIST
    path.write_text("\n".join(lines) + "\n")
    return path


def join(ffmpeg: str, listing: pathlib.Path, source: pathlib.Path, output: pathlib.Path) -> None:
    """Into a hidden file beside the output first: the output appears only whole."""
    partial = output.with_name(f".{output.stem}.partial{output.suffix}")
    tools.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0",
         "-i", str(listing), "-i", str(source), "-map", "0:v", "-map", "1:a?", "-map", "1:s?", "-map", "1:t?",
         "-map_metadata", "1", "-map_chapters", "1", "-c", "copy", str(partial)],
        "joining the segments",
    )  # fmt: skip
    partial.replace(output)
