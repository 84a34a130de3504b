"""Pixel formats <-> tensors: exact round trips and the normalisation formulas."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnvisr_core import pixels, yuv_norm
from nnvisr_core.errors import NnvisrError

RGB_FORMATS = ["rgb24", "gbrp", "gbrp10", "gbrp12", "gbrp16"]
YUV_FORMATS = ["yuv420p", "yuv420p10", "yuv420p12", "yuv420p16"]


def rgb_planes(fmt: pixels.PixelFormat, codes: np.ndarray) -> list[np.ndarray]:
    """codes [3, H, W] in R G B -> the frame's planes."""
    if fmt.packed:
        return [np.ascontiguousarray(codes.transpose(1, 2, 0)).reshape(codes.shape[1], -1).astype(fmt.dtype)]
    planes = [None, None, None]
    for channel, plane in enumerate(fmt.rgb_planes):
        planes[plane] = codes[channel].astype(fmt.dtype)
    return planes


@pytest.mark.parametrize("name", RGB_FORMATS)
@given(seed=st.integers(0, 2**32 - 1), width=st.integers(1, 17), height=st.integers(1, 9))
@settings(max_examples=20, deadline=None)
def test_rgb_round_trip_is_exact(name: str, seed: int, width: int, height: int) -> None:
    fmt = pixels.FORMATS[name]
    codes = np.random.default_rng(seed).integers(0, fmt.max_code + 1, (3, height, width))
    norm = pixels.RgbNormalisation.create(fmt, (0.4, 0.5, 0.6), (0.2, 0.3, 0.25), raw=False)
    tensor = np.empty((3, height, width), np.float32)
    pixels.read_rgb(fmt, rgb_planes(fmt, codes), norm, tensor)
    expected = (codes / fmt.max_code - np.array([0.4, 0.5, 0.6])[:, None, None]) / np.array([0.2, 0.3, 0.25])[
        :, None, None
    ]
    np.testing.assert_allclose(tensor, expected, rtol=1e-5, atol=1e-5)
    out = [np.zeros_like(p) for p in rgb_planes(fmt, codes)]
    pixels.write_rgb(fmt, tensor, norm, out)
    for a, b in zip(out, rgb_planes(fmt, codes)):
        np.testing.assert_array_equal(a, b)


def test_raw_norm_uses_code_values() -> None:
    fmt = pixels.FORMATS["gbrp10"]
    norm = pixels.RgbNormalisation.create(fmt, (512, 512, 512), (256, 256, 256), raw=True)
    codes = np.full((3, 1, 2), 768)
    tensor = np.empty((3, 1, 2), np.float32)
    pixels.read_rgb(fmt, rgb_planes(fmt, codes), norm, tensor)
    np.testing.assert_allclose(tensor, 1.0)


def test_write_clamps_and_rounds() -> None:
    fmt = pixels.FORMATS["gbrp"]
    norm = pixels.RgbNormalisation.create(fmt, (0, 0, 0), (1, 1, 1), raw=False)
    tensor = np.array([-0.5, 0.5 / 255 * 3, 2.0], np.float32).reshape(1, 1, 3).repeat(3, 0)
    out = [np.zeros((1, 3), np.uint8) for _ in range(3)]
    pixels.write_rgb(fmt, tensor, norm, out)
    np.testing.assert_array_equal(out[0], [[0, 2, 255]])  # 1.5 rounds to even


@pytest.mark.parametrize("name", YUV_FORMATS)
@pytest.mark.parametrize("full_range", [False, True])
def test_yuv_round_trip_is_exact(name: str, full_range: bool) -> None:
    fmt = pixels.FORMATS[name]
    rng = np.random.default_rng(7)
    width, height = 7, 5
    cw, ch = pixels.chroma_size(width, height)
    step = 1 << (fmt.depth - 8)
    if full_range:
        black, span, zero, cspan = 0.0, float(fmt.max_code), float(1 << (fmt.depth - 1)), float(fmt.max_code)
        (low, high), (chroma_low, chroma_high) = (0, fmt.max_code), (0, fmt.max_code)
    else:
        black, span, zero, cspan = 16.0 * step, 219.0 * step, 128.0 * step, 224.0 * step
        (low, high), (chroma_low, chroma_high) = (16 * step, 235 * step), (16 * step, 240 * step)
    planes = [
        rng.integers(low, high + 1, (height, width)).astype(fmt.dtype),
        rng.integers(chroma_low, chroma_high + 1, (ch, cw)).astype(fmt.dtype),
        rng.integers(chroma_low, chroma_high + 1, (ch, cw)).astype(fmt.dtype),
    ]
    y = np.empty((1, height, width), np.float32)
    uv = np.empty((2, ch, cw), np.float32)
    norm = yuv_norm.levels(fmt, full_range)
    pixels.read_yuv(fmt, planes, norm, y, uv)
    np.testing.assert_allclose(y[0], (planes[0] - black) / span, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(uv[0], (planes[1] - zero) / cspan + 0.5, rtol=1e-5, atol=1e-6)
    out = [np.zeros_like(p) for p in planes]
    pixels.write_yuv(fmt, y, uv, norm, out)
    for a, b in zip(out, planes):
        np.testing.assert_array_equal(a, b)


def test_ffmpeg_names_are_understood() -> None:
    assert pixels.lookup("gbrp10le").depth == 10
    assert pixels.lookup("yuv420p").family == pixels.YUV420
    with pytest.raises(NnvisrError, match="not supported"):
        pixels.lookup("nv12")


def test_limited_range_output_is_clamped_to_legal_range() -> None:
    fmt = pixels.FORMATS["yuv420p10"]
    y = np.array([[[-0.5, 1.5]]], np.float32)
    uv = np.array([[[-1.0]], [[2.0]]], np.float32)
    planes = [np.zeros((1, 2), np.uint16), np.zeros((1, 1), np.uint16), np.zeros((1, 1), np.uint16)]
    pixels.write_yuv(fmt, y, uv, yuv_norm.levels(fmt, False), planes)
    assert planes[0].tolist() == [[64, 940]]
    assert (planes[1][0, 0], planes[2][0, 0]) == (64, 960)
