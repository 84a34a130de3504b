"""YUV 4:2:0 normalisation: per plane affine maps between code values and network tensors.

Two conventions:
- levels (nnvisr's single-stage contract when no normalisation is given):
  luma black..white -> 0..1, neutral chroma -> 0.5;
- upstream NNVISR's (its two-stage contract, and any YUV model given
  norm_mean/norm_std): the RGB-space mean and std are carried through the
  frame's colour matrix to a mean and std per Y, U and V plane, and
  x = ((code - low) / span - mean) / std, with low and span the plane's range
  (limited or full). Its chroma bias is 2^(d-1)/(2^d-1) for limited range and
  0.5 for full range, as upstream computes it; raw_norm applies the three
  values to the Y, U and V codes directly.
Outputs go back through the inverse map, clamped to the plane's legal range.
"""

from __future__ import annotations

import dataclasses
import math

from .colour import MATRIX_BT470BG, MATRIX_SMPTE170M, UNSPECIFIED
from .errors import NnvisrError
from .pixels import PixelFormat

MATRIX_RGB, MATRIX_BT709, MATRIX_CHROMA_DERIVED_NCL = 0, 1, 12

# H.273 matrix coefficients -> (Kr, Kb), as upstream's table lists them.
MATRIX_COEFFICIENTS = {
    MATRIX_BT709: (0.2126, 0.0722),
    4: (0.30, 0.11),  # FCC
    MATRIX_BT470BG: (0.299, 0.114),
    MATRIX_SMPTE170M: (0.299, 0.114),
    7: (0.212, 0.087),  # SMPTE 240M
    9: (0.2627, 0.0593),  # BT.2020 non-constant luminance
}

# H.273 colour primaries -> rx, ry, gx, gy, bx, by, wx, wy, for the chromaticity-derived matrix.
PRIMARIES = {
    1: (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290),  # BT.709
    4: (0.67, 0.33, 0.21, 0.71, 0.14, 0.08, 0.310, 0.316),  # BT.470 M
    5: (0.64, 0.33, 0.29, 0.60, 0.15, 0.06, 0.3127, 0.3290),  # BT.470 BG
    6: (0.630, 0.340, 0.310, 0.595, 0.155, 0.070, 0.3127, 0.3290),  # SMPTE 170M
    7: (0.630, 0.340, 0.310, 0.595, 0.155, 0.070, 0.3127, 0.3290),  # SMPTE 240M
    8: (0.681, 0.319, 0.243, 0.692, 0.145, 0.049, 0.310, 0.316),  # film
    9: (0.708, 0.292, 0.170, 0.797, 0.131, 0.046, 0.3127, 0.3290),  # BT.2020
    10: (1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.3333, 0.3333),  # SMPTE 428
    11: (0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.314, 0.351),  # SMPTE 431
    12: (0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290),  # SMPTE 432
    22: (0.630, 0.340, 0.295, 0.605, 0.155, 0.077, 0.3127, 0.3290),  # EBU 3213
}


@dataclasses.dataclass(frozen=True)
class YuvNormalisation:
    """x = code * gain + offset for the Y, U and V planes; outputs are clamped to low..high."""

    gain: tuple[float, float, float]
    offset: tuple[float, float, float]
    low: tuple[float, float, float]
    high: tuple[float, float, float]


def plane_ranges(fmt: PixelFormat, full_range: bool) -> tuple[tuple[float, float], tuple[float, float]]:
    """(low, high) of luma and of chroma: limited range keeps to 16-235 and 16-240, scaled to the depth."""
    if full_range:
        return (0.0, float(fmt.max_code)), (0.0, float(fmt.max_code))
    step = float(1 << (fmt.depth - 8))
    return (16 * step, 235 * step), (16 * step, 240 * step)


def levels(fmt: PixelFormat, full_range: bool) -> YuvNormalisation:
    """Luma black..white -> 0..1, neutral chroma -> 0.5, chroma extremes -> 0..1."""
    (low, high), (chroma_low, chroma_high) = plane_ranges(fmt, full_range)
    if full_range:
        span = chroma_span = float(fmt.max_code)
        zero = float(1 << (fmt.depth - 1))
    else:
        step = float(1 << (fmt.depth - 8))
        span, chroma_span, zero = 219 * step, 224 * step, 128 * step
    chroma_offset = 0.5 - zero / chroma_span
    return YuvNormalisation(
        (1 / span, 1 / chroma_span, 1 / chroma_span),
        (-low / span, chroma_offset, chroma_offset),
        (low, chroma_low, chroma_low),
        (high, chroma_high, chroma_high),
    )


def matrix_coefficients(matrix: int, primaries: int) -> tuple[float, float]:
    """(Kr, Kb) of an H.273 matrix; the chromaticity-derived one from the primaries."""
    if matrix == MATRIX_CHROMA_DERIVED_NCL:
        rx, ry, gx, gy, bx, by, wx, wy = PRIMARIES.get(primaries, PRIMARIES[1])
        rz, gz, bz, wz = 1 - (rx + ry), 1 - (gx + gy), 1 - (bx + by), 1 - (wx + wy)
        denominator = wy * (rx * (gy * bz - by * gz) + gx * (by * rz - ry * bz) + bx * (ry * gz - gy * rz))
        kr = ry * (wx * (gy * bz - by * gz) + wy * (bx * gz - gx * bz) + wz * (gx * by - bx * gy)) / denominator
        kb = by * (wx * (ry * gz - gy * rz) + wy * (gx * rz - rx * gz) + wz * (rx * gy - gx * ry)) / denominator
        return kr, kb
    if matrix not in MATRIX_COEFFICIENTS:
        raise NnvisrError(
            f"colour matrix {matrix} (H.273) has no luma coefficients to carry norm_mean/norm_std to Y, U and V; "
            f"tag the video with a supported matrix (setparams=colorspace=bt709) or set raw_norm=1"
        )
    return MATRIX_COEFFICIENTS[matrix]


def upstream(
    fmt: PixelFormat,
    full_range: bool,
    matrix: tuple[float, float],
    mean: tuple[float, ...],
    std: tuple[float, ...],
    raw: bool,
) -> YuvNormalisation:
    """Upstream NNVISR's per plane normalisation for the RGB-space mean and std (matrix: Kr, Kb)."""
    (low, high), (chroma_low, chroma_high) = plane_ranges(fmt, full_range)
    lows, highs = (low, chroma_low, chroma_low), (high, chroma_high, chroma_high)
    if raw:
        return YuvNormalisation(
            tuple(1 / s for s in std), tuple(-m / s for m, s in zip(mean, std)), lows, highs  # type: ignore[arg-type]
        )
    kr, kb = matrix
    kg = 1 - kr - kb
    (r_mean, g_mean, b_mean), (r_std, g_std, b_std) = mean, std
    chroma_bias = 0.5 if full_range else (1 << (fmt.depth - 1)) / fmt.max_code
    y_mean = r_mean * kr + g_mean * kg + b_mean * kb
    y_std = math.sqrt((r_std * kr) ** 2 + (g_std * kg) ** 2 + (b_std * kb) ** 2)
    u_mean = (b_mean - y_mean) / (1 - kb) / 2 + chroma_bias
    v_mean = (r_mean - y_mean) / (1 - kr) / 2 + chroma_bias
    # 4:2:0 chroma averages four samples: its spread shrinks by sqrt(2 * 2)
    u_std = math.sqrt(b_std**2 + y_std**2) / (1 - kb) / 2 / 2
    v_std = math.sqrt(r_std**2 + y_std**2) / (1 - kr) / 2 / 2
    gains, offsets = [], []
    for plane_mean, plane_std, plane_low, plane_high in zip(
        (y_mean, u_mean, v_mean), (y_std, u_std, v_std), lows, highs
    ):
        span = plane_high - plane_low
        # x = ((code - low) / span - mean) / std
        gains.append(1 / (span * plane_std))
        offsets.append(-(plane_low / span + plane_mean) / plane_std)
    return YuvNormalisation(tuple(gains), tuple(offsets), lows, highs)  # type: ignore[arg-type]


def matrix_of_frames(matrix: int) -> tuple[int, str | None]:
    """The matrix the normalisation uses for frames tagged so, and a warning when it is assumed."""
    if matrix in UNSPECIFIED or matrix == MATRIX_RGB:
        return MATRIX_BT709, "colour matrix unspecified: normalising as BT.709"
    return matrix, None
