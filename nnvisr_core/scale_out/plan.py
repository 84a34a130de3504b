"""Scenes grouped into chunks of about --chunk-seconds; a scene is never split where the model carries state."""

from __future__ import annotations

import dataclasses
import fractions

from .graph import PRE_ROLL
from .scan import Scan


@dataclasses.dataclass(frozen=True)
class Chunk:
    index: int
    start: int  # first source frame
    end: int  # one past the last source frame
    start_pts: int  # the first frame's timestamp in one run (source time base)
    out_frames: int  # frames its segment must hold
    decode_start: int  # first frame decoded (scene detectors warm up on the frames before `start`)
    decode_end: int  # one past the last frame decoded (interpolation sees the next scene's first frame)
    seek_us: int | None  # where ffmpeg seeks to: between decode_start and the frame before it; None: from the start

    @property
    def name(self) -> str:
        return f"chunk_{self.index:05d}"


@dataclasses.dataclass(frozen=True)
class Model:
    """What the plan needs to know of the model."""

    frame_factor: int  # output frames per input frame (2 when interpolating)
    split_unit: int | None  # frames a long scene may be split at multiples of; None: never split a scene


def _times(scan: Scan) -> list[fractions.Fraction]:
    times = [p * scan.time_base for p in scan.pts]
    last = times[-1] - times[-2] if len(times) > 1 else scan.time_base
    return [*times, times[-1] + last]


def _pieces(
    scan: Scan, times: list[fractions.Fraction], seconds: fractions.Fraction, unit: int | None
) -> list[tuple[int, int]]:
    bounds = [*scan.cuts, len(scan.pts)]
    pieces = []
    for start, end in zip(bounds, bounds[1:]):
        if unit is None or times[end] - times[start] <= seconds:
            pieces.append((start, end))
            continue
        first = start
        while first < end:
            last = first + unit
            while last < end and times[last] - times[first] < seconds:
                last += unit
            if end - last < unit:  # a scene's short last window is filled from the window before: keep them together
                last = end
            pieces.append((first, min(last, end)))
            first = last
    return pieces


def plan(scan: Scan, chunk_seconds: float, model: Model) -> list[Chunk]:
    times = _times(scan)
    seconds = fractions.Fraction(chunk_seconds).limit_denominator(1000)
    ranges: list[tuple[int, int]] = []
    start = None
    for first, last in _pieces(scan, times, seconds, model.split_unit):
        start = first if start is None else start
        if times[last] - times[start] >= seconds:
            ranges.append((start, last))
            start = None
    if start is not None:
        ranges.append((start, len(scan.pts)))
    total = len(scan.pts)
    post_roll = 1 if model.frame_factor > 1 else 0
    chunks = []
    for index, (start, end) in enumerate(ranges):
        first = max(0, start - PRE_ROLL)
        seek = None if first == 0 else int((times[first - 1] + times[first]) / 2 * 1_000_000)
        chunks.append(Chunk(index, start, end, scan.pts[start], (end - start) * model.frame_factor, first,
                            min(total, end + post_roll), seek))  # fmt: skip
    return chunks
