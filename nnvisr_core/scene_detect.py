"""Scene change scores with FFmpeg's scdet measure (libavfilter/vf_scdet.c, get_scene_score).

The frames are measured as they arrive on the filter's input link, as scdet in front of the filter would see them:
planar YUV (three components or more) by its luma plane alone, every other format by all of its planes, a packed
plane's row counting all of its samples (rgb24: 3 * width). Per frame:

    mafd  = sum |cur - prev| * 100 / samples / 2^depth      (the mean absolute frame difference, in percent)
    score = clip(min(mafd, |mafd - previous mafd|), 0, 100)

and a scene starts where score >= threshold (scdet's default: 10). The first frame scores 0. The sums are exact
(int64) and the floating-point operations are scdet's, in its order, so every decision is scdet's.
"""

from __future__ import annotations

import dataclasses

import numpy as np

SCDET_THRESHOLD = 10.0  # scdet's default threshold


@dataclasses.dataclass(frozen=True)
class LinkFormat:
    """A pixel format as FFmpeg's AVPixFmtDescriptor describes it, at the link's size."""

    name: str
    depth: int  # bits of the first component
    components: int
    rgb: bool
    planar: bool
    floating: bool
    big_endian: bool
    plane_bytes: tuple[int, ...]  # bytes of one row of each plane
    plane_rows: tuple[int, ...]


class SceneMeasure:
    """scdet's score of each frame against the one before; keeps a copy of the planes it measures."""

    def __init__(self, fmt: LinkFormat) -> None:
        yuv = not fmt.rgb and fmt.planar and fmt.components >= 3
        self.plane_count = 1 if yuv else len(fmt.plane_bytes)
        if fmt.floating:  # (scdet takes no float format: samples nominally in 0..1)
            self.dtype = np.dtype(np.float16 if fmt.depth <= 16 else np.float32)
            self.unit = 1.0
        else:  # scdet reads 8-bit samples, or 16-bit ones for any depth above 8
            self.dtype = np.dtype(np.uint8 if fmt.depth <= 8 else np.uint16)
            self.unit = float(1 << fmt.depth)
        if fmt.big_endian:
            self.dtype = self.dtype.newbyteorder(">")
        # (rows, samples) of each plane measured
        self.plane_shapes = [
            (fmt.plane_rows[i], fmt.plane_bytes[i] // self.dtype.itemsize) for i in range(self.plane_count)
        ]
        self.previous: list[np.ndarray] | None = None
        self.previous_mafd = 0.0

    def score(self, planes: list[np.ndarray]) -> float:
        """The score of this frame (planes: the first plane_count planes, of plane_shapes and dtype)."""
        score = 0.0
        if self.previous is not None:
            sad = sum(_sad(before, now) for before, now in zip(self.previous, planes))
            count = sum(rows * samples for rows, samples in self.plane_shapes)
            mafd = float(sad) * 100.0 / count / self.unit
            diff = abs(mafd - self.previous_mafd)
            score = min(max(min(mafd, diff), 0.0), 100.0)
            self.previous_mafd = mafd
            for kept, plane in zip(self.previous, planes):
                np.copyto(kept, plane)
        else:
            self.previous = [plane.copy() for plane in planes]
        return score


def _sad(a: np.ndarray, b: np.ndarray) -> int | float:
    """Sum of absolute differences, exact for integer samples."""
    if a.dtype.kind == "f":
        return float(np.abs(a.astype(np.float64) - b).sum())
    high = np.maximum(a, b)
    np.subtract(high, np.minimum(a, b), out=high)  # no wrap-around: high >= low
    return int(high.sum(dtype=np.int64))
