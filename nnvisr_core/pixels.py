"""Pixel formats <-> network tensors, in float32 with numpy.

Conversions between formats are FFmpeg's job (format negotiation); this module
only normalises the formats a model takes natively:
- RGB models: rgb24 (packed), gbrp and gbrp10/12/16 (planar, G B R planes),
  gbrpf32 (planar float, nominal 0..1, neither rounded nor clamped);
- YUV 4:2:0 models: yuv420p and yuv420p10/12/16, limited or full range.

RGB tensors are [3, H, W] in R G B order, x = (code/max - mean)/std
(raw_norm: (code - mean)/std). YUV tensors are y [1, H, W] and uv [2, ⌈H/2⌉, ⌈W/2⌉],
x = code * gain + offset per plane (yuv_norm.py chooses gain and offset).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

import numpy as np

from .errors import NnvisrError

if TYPE_CHECKING:
    from .yuv_norm import YuvNormalisation

try:  # C loops for packed rgb24, built with the package (meson); numpy does the same without them
    from ._pixel_kernels import ffi as _ffi
    from ._pixel_kernels import lib as _kernels
except ImportError:  # a source tree without the built module
    _kernels = None

RGB = "rgb"
YUV420 = "yuv420"


@dataclasses.dataclass(frozen=True)
class PixelFormat:
    name: str  # FFmpeg's name, native endianness alias
    family: str  # RGB or YUV420
    depth: int
    packed: bool = False
    # For planar RGB: the plane holding R, G and B.
    rgb_planes: tuple[int, int, int] = (0, 1, 2)

    floating: bool = False

    @property
    def dtype(self) -> type[np.number]:
        if self.floating:
            return np.float32
        return np.uint8 if self.depth <= 8 else np.uint16

    @property
    def max_code(self) -> int:
        """The code of white; 1 for float formats."""
        return 1 if self.floating else (1 << self.depth) - 1


FORMATS = {
    f.name: f
    for f in (
        PixelFormat("gbrp", RGB, 8, rgb_planes=(2, 0, 1)),
        PixelFormat("rgb24", RGB, 8, packed=True),
        PixelFormat("gbrp10", RGB, 10, rgb_planes=(2, 0, 1)),
        PixelFormat("gbrp12", RGB, 12, rgb_planes=(2, 0, 1)),
        PixelFormat("gbrp16", RGB, 16, rgb_planes=(2, 0, 1)),
        PixelFormat("gbrpf32", RGB, 32, rgb_planes=(2, 0, 1), floating=True),
        PixelFormat("yuv420p", YUV420, 8),
        PixelFormat("yuv420p10", YUV420, 10),
        PixelFormat("yuv420p12", YUV420, 12),
        PixelFormat("yuv420p16", YUV420, 16),
    )
}


def formats_of_family(family: str) -> list[str]:
    return [f.name for f in FORMATS.values() if f.family == family]


def lookup(name: str) -> PixelFormat:
    """FFmpeg reports little-endian names such as gbrp10le; numpy reads native order."""
    base = name[:-2] if name.endswith(("le", "be")) and name[:-2] in FORMATS else name
    if base not in FORMATS or (base != name and name[-2:] != ("le" if np.little_endian else "be")):
        raise NnvisrError(f"pixel format {name} is not supported by this model")
    return FORMATS[base]


def chroma_size(width: int, height: int) -> tuple[int, int]:
    return (width + 1) // 2, (height + 1) // 2


# ---------------------------------------------------------------- RGB


@dataclasses.dataclass(frozen=True)
class RgbNormalisation:
    """Per channel affine maps code -> tensor and tensor -> code."""

    gain: np.ndarray  # [3,1,1]: x = code * gain + offset
    offset: np.ndarray

    @classmethod
    def create(
        cls, fmt: PixelFormat, mean: tuple[float, ...], std: tuple[float, ...], raw: bool
    ) -> RgbNormalisation:
        unit = 1.0 if raw else float(fmt.max_code)
        mean_a = np.asarray(mean, np.float64)
        std_a = np.asarray(std, np.float64)
        gain = (1.0 / (unit * std_a)).astype(np.float32).reshape(3, 1, 1)
        offset = (-mean_a / std_a).astype(np.float32).reshape(3, 1, 1)
        return cls(gain, offset)

    @functools.cached_property
    def is_plain(self) -> bool:
        return not self.offset.any()

    @functools.cached_property
    def c_arrays(self) -> tuple:
        """gain and offset as float* for the C loop; the numpy arrays are kept alive with them."""
        gain, offset = np.ascontiguousarray(self.gain.ravel()), np.ascontiguousarray(self.offset.ravel())
        return gain, offset, _ffi.from_buffer("float[]", gain), _ffi.from_buffer("float[]", offset)


def _packed_u8_in_c(fmt: PixelFormat, tensor: np.ndarray) -> bool:
    return (_kernels is not None and fmt.packed and fmt.depth == 8 and tensor.dtype == np.float32
            and tensor.flags.c_contiguous)


def read_rgb(fmt: PixelFormat, planes: list[np.ndarray], norm: RgbNormalisation, out: np.ndarray) -> None:
    """planes: [H, W*3] for packed, else three [H, W] planes; out: [3, H, W]."""
    if _packed_u8_in_c(fmt, out):
        plane = planes[0]
        _, _, gain, offset = norm.c_arrays
        _kernels.nnvisr_rgb24_read(_ffi.cast("uint8_t *", plane.ctypes.data), plane.strides[0], out.shape[2],
                                   out.shape[1], _ffi.cast("float *", out.ctypes.data), gain, offset)
        return
    if fmt.packed:
        height, row = planes[0].shape
        source = planes[0].reshape(height, row // 3, 3).transpose(2, 0, 1)
        np.multiply(source, norm.gain, out=out, casting="unsafe")
    else:
        for channel, plane in enumerate(fmt.rgb_planes):
            np.multiply(planes[plane], norm.gain[channel], out=out[channel], casting="unsafe")
    if not norm.is_plain:
        out += norm.offset


def _clamp(codes: np.ndarray, low: float, high: float) -> None:
    """Clamp in place; NaN (a network's numerical failure) becomes low, as in the C loops. fmax/fmin
    take the number where np.clip would keep NaN, which casts to an undefined code with a warning."""
    np.fmax(codes, np.float32(low), out=codes)
    np.fmin(codes, np.float32(high), out=codes)


def write_rgb(
    fmt: PixelFormat,
    tensor: np.ndarray,
    norm: RgbNormalisation,
    planes: list[np.ndarray],
    scratch: np.ndarray | None = None,
) -> None:
    """tensor: [3, H, W] -> planes of the frame, rounded and clamped.

    scratch: a float32 array of the tensor's shape to compute in (else one is
    allocated). Rounding is fused with the store into the frame, and packed
    frames are written one channel at a time: numpy then walks each row
    with a stride of 3 bytes instead of copying 3 bytes at a time. Packed
    8-bit frames go through the C loop when it is built (same results)."""
    if _packed_u8_in_c(fmt, tensor):
        plane = planes[0]
        _, _, gain, offset = norm.c_arrays
        if _kernels.nnvisr_rgb24_write(_ffi.cast("float *", tensor.ctypes.data), tensor.shape[2], tensor.shape[1],
                                       _ffi.cast("uint8_t *", plane.ctypes.data), plane.strides[0], gain, offset):
            raise MemoryError("rgb24 write: out of memory")
        return
    codes = scratch if scratch is not None and scratch.shape == tensor.shape else np.empty(tensor.shape, np.float32)
    if norm.is_plain:
        np.divide(tensor, norm.gain, out=codes)
    else:
        np.subtract(tensor, norm.offset, out=codes)
        np.divide(codes, norm.gain, out=codes)
    if not fmt.floating:
        _clamp(codes, 0, fmt.max_code)
    if fmt.packed:
        height, row = planes[0].shape
        target = planes[0].reshape(height, row // 3, 3)
        targets = [target[:, :, channel] for channel in range(3)]
    else:
        targets = [planes[plane] for plane in fmt.rgb_planes]
    for channel, target in enumerate(targets):
        if fmt.floating:
            np.copyto(target, codes[channel], casting="unsafe")
        else:
            np.rint(codes[channel], out=target, casting="unsafe")


# ---------------------------------------------------------------- YUV


def read_yuv(fmt: PixelFormat, planes: list[np.ndarray], norm: YuvNormalisation, y_out: np.ndarray,
             uv_out: np.ndarray) -> None:
    """planes: Y [H, W], U and V [⌈H/2⌉, ⌈W/2⌉]; y_out [1, H, W], uv_out [2, ...]."""
    targets = (y_out[0], uv_out[0], uv_out[1])
    for plane, target, gain, offset in zip(planes, targets, norm.gain, norm.offset):
        np.multiply(plane, np.float32(gain), out=target, casting="unsafe")
        target += np.float32(offset)


def write_yuv(
    fmt: PixelFormat,
    y: np.ndarray,
    uv: np.ndarray,
    norm: YuvNormalisation,
    planes: list[np.ndarray],
    scratch: list[np.ndarray] | None = None,
) -> None:
    """y [1, H, W] and uv [2, ...] -> the frame's planes, rounded and clamped to the legal range.
    scratch: float32 arrays shaped as y[0] and uv[0]."""
    if scratch is None or scratch[0].shape != y.shape[1:] or scratch[1].shape != uv.shape[1:]:
        scratch = [np.empty(y.shape[1:], np.float32), np.empty(uv.shape[1:], np.float32)]
    sources = (y[0], uv[0], uv[1])
    for index, (source, plane) in enumerate(zip(sources, planes)):
        codes = scratch[min(index, 1)]
        # code = (x - offset) / gain
        np.subtract(source, np.float32(norm.offset[index]), out=codes)
        codes *= np.float32(1 / norm.gain[index])
        _clamp(codes, norm.low[index], norm.high[index])
        np.rint(codes, out=plane, casting="unsafe")
