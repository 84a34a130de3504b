"""Generated clips with scene cuts that scdet finds, shared by the temporal tests."""

from __future__ import annotations

import re

import numpy as np


def scene_clip(
    scene_lengths: list[int], width: int, height: int, pattern: bool = False
) -> tuple[np.ndarray, set[int]]:
    """Flat frames [F, 3, H, W]; within a scene values creep by 3, between scenes they jump far.

    pattern adds a small fixed texture (the same in every frame, so scdet's frame
    differences do not change) for models that pool and upsample."""
    values, cuts, start = [], set(), 0
    bases = [20, 200, 123, 230, 100, 10]  # jumps that scdet scores above 10
    for index, length in enumerate(scene_lengths):
        if index:
            cuts.add(start)
        values += [bases[index % len(bases)] + 3 * i for i in range(length)]
        start += length
    frames = np.array(values)[:, None, None, None] * np.ones((1, 3, height, width), np.int64)
    frames[:, 1] = np.clip(frames[:, 1] // 2 + 7, 0, 255)  # channels differ too
    if pattern:
        ys, xs = np.mgrid[0:height, 0:width]
        frames = np.clip(frames + (xs + 2 * ys) % 5, 0, 255)
    return frames, cuts


def found_cuts(log: str, rate: int = 25) -> set[int]:
    """Frame numbers scdet marked (its log prints the scene start time)."""
    return {round(float(t) * rate) for t in re.findall(r"lavfi\.scd\.time: ([0-9.]+)", log)}
