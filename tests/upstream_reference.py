"""Upstream NNVISR's behaviour written out from its documented rules, in numpy, for the drop-in tests.

Independent of nnvisr_core (nothing is imported from it):
- windows: upstream's input_count is the number of frames the network takes; with extra_frame a
  window consumes n = input_count - 1 frames and its last member is the next window's first.
  Windows never cross a scene cut; the end-of-scene rules are the ones the NNVISR paper states and
  upstream's scheduler means (without its defects): a short last group is filled with frames of the
  previous group and only its new frames are output, a scene shorter than n repeats its last frame,
  and the extra frame of a scene's last window is that scene's last frame again.
- timestamps with interpolation: the time base halves; each input frame gives the frame at its own
  time and one at the exact midpoint to the next input frame; after the last frame the midpoint
  extrapolates that frame's duration.
- normalisation (vs-NNVISR src/vs-plugin.cpp, init2): RGB x = ((code - d) / c - mean) / std; for YUV
  models with raw_norm=0 the RGB mean/std become a per-plane scale and offset through the frame's
  matrix (kr, kb) and range, with upstream's chroma bias, and the 4:2:0 chroma std halved; the
  output is x * std + mean mapped back to codes, rounded and clamped to the plane's legal range.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# upstream's defaults (docs/usage.md, vs-plugin.cpp), also what CycMuNet+'s published options spell out
UPSTREAM_MEAN = (0.485, 0.456, 0.406)
UPSTREAM_STD = (0.229, 0.224, 0.225)

# (kr, kb) of the matrices upstream's table knows, by FFmpeg's colorspace names
MATRICES = {
    "bt709": (0.2126, 0.0722),
    "fcc": (0.30, 0.11),
    "bt470bg": (0.299, 0.114),
    "smpte170m": (0.299, 0.114),
    "smpte240m": (0.212, 0.087),
    "bt2020nc": (0.2627, 0.0593),
}


# ---------------------------------------------------------------- windows and timestamps


@dataclasses.dataclass(frozen=True)
class Output:
    k: int  # the fusion network's output h{k}
    pts: int  # in the output time base (half the input's)
    duration: int


@dataclasses.dataclass(frozen=True)
class UpstreamWindow:
    members: tuple[int, ...]  # the input_count frames fed to the fusion network, f0, f2, f4, ...
    outputs: tuple[Output, ...]  # what the window gives, in output order


def scenes(count: int, cuts: set[int]) -> list[range]:
    starts = sorted({0, *(c for c in cuts if 0 < c < count)})
    return [range(s, e) for s, e in zip(starts, [*starts[1:], count])]


def stvsr_windows(pts: list[int], durations: list[int], cuts: set[int], input_count: int) -> list[UpstreamWindow]:
    """Windows of upstream's published configurations: interpolation, extra_frame and double_frame.

    The network takes input_count frames, consumes n = input_count - 1 and gives h0..h{2n-1}:
    h{2j} is consumed member j at its own time, h{2j+1} the frame halfway to member j+1.
    """
    count, n = len(pts), input_count - 1
    assert n >= 1, "extra_frame needs input_count >= 2"
    windows = []
    for scene in scenes(count, cuts):
        first, end = scene.start, scene.stop
        for start in range(first, end, n):
            group = list(range(start, min(start + n, end)))
            if len(group) == n:  # a full group; its extra frame is the next one, or the scene's last again
                consumed, new = group, list(range(n))
                extra = start + n if start + n < end else end - 1
            elif len(scene) >= n:  # a short last group: the previous group's frames fill it
                consumed = list(range(end - n, end))
                new = list(range(n - len(group), n))
                extra = end - 1
            else:  # a scene shorter than n: its last frame repeats
                consumed = group + [end - 1] * (n - len(group))
                new = list(range(len(group)))
                extra = end - 1
            outputs = []
            for j in new:
                f = consumed[j]
                step = pts[f + 1] - pts[f] if f + 1 < count else durations[f]
                outputs.append(Output(2 * j, 2 * pts[f], step))
                outputs.append(Output(2 * j + 1, 2 * pts[f] + step, step))
            windows.append(UpstreamWindow(tuple(consumed + [extra]), tuple(outputs)))
    return windows


# ---------------------------------------------------------------- normalisation


@dataclasses.dataclass(frozen=True)
class PlaneScale:
    """One plane's mapping between code values and the network's numbers."""

    std: float  # upstream's denorm a, in units of the plane's span
    mean: float  # upstream's denorm b
    span: float  # c: max - min of the plane's range (luma's for Y and RGB, chroma's for U and V)
    floor: float  # d: the range's minimum
    low: float  # output clamp
    high: float

    def to_model(self, code: np.ndarray) -> np.ndarray:
        return ((np.asarray(code, np.float64) - self.floor) / self.span - self.mean) / self.std

    def to_code(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint((x * self.std + self.mean) * self.span + self.floor), self.low, self.high)


def _ranges(depth: int, full_range: bool) -> tuple[float, float, float, float]:
    """(y_min, y_max, uv_min, uv_max) in codes."""
    if full_range:
        top = float((1 << depth) - 1)
        return 0.0, top, 0.0, top
    return float(16 << (depth - 8)), float(235 << (depth - 8)), float(16 << (depth - 8)), float(240 << (depth - 8))


def rgb_planes(mean=UPSTREAM_MEAN, std=UPSTREAM_STD, depth: int = 8) -> list[PlaneScale]:
    """R, G, B of a full-range RGB frame: x = (code / max - mean) / std."""
    y_min, y_max, _, _ = _ranges(depth, True)
    return [PlaneScale(s, m, y_max - y_min, y_min, y_min, y_max) for m, s in zip(mean, std)]


def yuv_planes(
    mean=UPSTREAM_MEAN, std=UPSTREAM_STD, matrix: str = "bt709", full_range: bool = False, depth: int = 8
) -> list[PlaneScale]:
    """Y, U, V of a 4:2:0 frame: upstream's per-plane mean and std derived from the RGB ones."""
    kr, kb = MATRICES[matrix]
    kg = 1 - kr - kb
    rm, gm, bm = mean
    rs, gs, bs = std
    # vs-plugin.cpp: limited range (VS range 1) takes 2^(d-1)/(2^d-1), full range 0.5
    uv_bias = 0.5 if full_range else (1 << (depth - 1)) / ((1 << depth) - 1)
    y_mean = rm * kr + gm * kg + bm * kb
    y_std = math.sqrt((rs * kr) ** 2 + (gs * kg) ** 2 + (bs * kb) ** 2)
    u_mean = (bm - y_mean) / (1 - kb) / 2 + uv_bias
    u_std = math.sqrt(bs * bs + y_std * y_std) / (1 - kb) / 2
    v_mean = (rm - y_mean) / (1 - kr) / 2 + uv_bias
    v_std = math.sqrt(rs * rs + y_std * y_std) / (1 - kr) / 2
    uv_scale = 2.0  # sqrt(2^ssw * 2^ssh) for 4:2:0
    u_std, v_std = u_std / uv_scale, v_std / uv_scale
    y_min, y_max, uv_min, uv_max = _ranges(depth, full_range)
    return [
        PlaneScale(y_std, y_mean, y_max - y_min, y_min, y_min, y_max),
        PlaneScale(u_std, u_mean, uv_max - uv_min, uv_min, uv_min, uv_max),
        PlaneScale(v_std, v_mean, uv_max - uv_min, uv_min, uv_min, uv_max),
    ]


def plain_yuv_planes(full_range: bool = False, depth: int = 8) -> list[PlaneScale]:
    """Levels without mean/std (black..white -> 0..1, neutral chroma -> 0.5): what a YUV model gets
    when norm_mean/norm_std are ignored. The tests check that this would give other frames."""
    y_min, y_max, uv_min, uv_max = _ranges(depth, full_range)
    return [
        PlaneScale(1.0, 0.0, y_max - y_min, y_min, y_min, y_max),
        PlaneScale(1.0, 0.0, uv_max - uv_min, uv_min, uv_min, uv_max),
        PlaneScale(1.0, 0.0, uv_max - uv_min, uv_min, uv_min, uv_max),
    ]
